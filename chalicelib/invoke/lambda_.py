"""Lambda Invoker: boto3 ``lambda.invoke`` — against AWS Lambda, or against local workers.

Local workers (local/worker.py) serve the same Invoke API
(``POST /2015-03-31/functions/{name}/invocations``), so this one client reaches both.
``RequestResponse`` when the route needs the answer; ``Event`` for fire-and-forget.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import DeltaError, Unavailable, to_result
from chalicelib.handlers.protocol import WorkerStatus
from chalicelib.invoke.base import Event, InvokeFailed, Result
from chalicelib.invoke.sigv4 import MAIN_ACCESS_KEY

log = logging.getLogger(__name__)


def make_client(
    endpoint: str | None,
    secret: str | None,
    *,
    timeout: float,
    attempts: int,
    region: str | None = None,
) -> Any:
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=2,
        read_timeout=timeout,
        tcp_keepalive=True,
        max_pool_connections=64,
    )
    kwargs: dict[str, Any] = {"endpoint_url": endpoint, "config": config, "region_name": region or "us-east-1"}
    if secret is not None:  # a local worker: sign with the shared secret
        kwargs |= {"aws_access_key_id": MAIN_ACCESS_KEY, "aws_secret_access_key": secret}
    return boto3.session.Session().client("lambda", **kwargs)


def invoke_with(client: Any, function: str, event: Event, *, asynchronous: bool = False) -> Result:
    """One invocation; InvokeFailed when the call itself failed (network, 5xx, timeout)."""
    try:
        response = client.invoke(
            FunctionName=function,
            InvocationType="Event" if asynchronous else "RequestResponse",
            Payload=json.dumps(event).encode(),
        )
    except (BotoCoreError, ClientError) as exc:
        raise InvokeFailed(str(exc)) from exc
    if asynchronous:
        return {}
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        log.error("processing handler %s failed: %s", function, payload[:500])
        return to_result(DeltaError("processing handler failed"))
    result: Result = json.loads(payload)
    return result


class LambdaInvoker:
    def __init__(self, client: Any, names: Mapping[str, str] | None = None) -> None:
        self._client = client
        self._names = dict(names or {})  # protocol function name -> deployed function name

    def invoke(self, function: str, event: Event) -> Result:
        try:
            return invoke_with(self._client, self._names.get(function, function), event)
        except InvokeFailed as exc:
            log.error("invoking %s failed: %s", function, exc)
            return to_result(Unavailable("processing worker unavailable"))

    def invoke_async(self, function: str, event: Event) -> None:
        try:
            invoke_with(self._client, self._names.get(function, function), event, asynchronous=True)
        except InvokeFailed as exc:  # the operation stays pending and is completed when read
            log.error("asynchronous invocation of %s failed: %s", function, exc)

    def workers(self) -> list[WorkerStatus]:
        return []  # Lambda scales its own workers; none are long-lived
