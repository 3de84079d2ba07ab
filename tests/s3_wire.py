"""What an S3 client sends, seen from the client: for the lean client its watchers, for boto3 its event hooks.

A ``LeanS3`` leaves some calls (listing, bucket checks) to a boto3 client it holds, so
both are watched; ``watch`` builds that client if it was not built yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.storage.s3_lean import Exchange, LeanS3

OnSend = Callable[[str, dict[str, str]], None]  # (operation, headers with lower-case names)
OnStatus = Callable[[str, int], None]  # (operation, HTTP status of the answer)


def watch(client: Any, on_send: OnSend, on_status: OnStatus | None = None) -> None:
    if isinstance(client, LeanS3):

        def seen(ex: Exchange) -> None:
            on_send(ex.op, {k.lower(): v for k, v in ex.headers.items()})
            if on_status is not None and ex.status:
                on_status(ex.op, ex.status)

        client.watchers.append(seen)

    def sent(request: Any, event_name: str, **_: Any) -> None:
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        on_send(event_name.rsplit(".", 1)[1], headers)

    events = client.meta.events
    events.register("before-send.s3", sent)
    if on_status is not None:
        report = on_status

        def answered(http_response: Any, model: Any, **_: Any) -> None:
            report(model.name, http_response.status_code)

        events.register("after-call.s3", answered)
