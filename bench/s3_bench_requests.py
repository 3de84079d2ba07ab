"""s3_bench's count of S3 requests per API operation, as the app's own S3 client sends them
(tests/s3_wire.py), the same routes and handlers run in-process."""

from __future__ import annotations

import json
import secrets
import tempfile
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from s3_bench_clients import DOC

REUSED = "API-key session, record reused"


def requests_per_operation(endpoint: str) -> dict[str, Any]:
    """Count S3 requests per API operation as the app's S3 client sends them."""
    from chalice.test import Client

    from chalicelib.bootstrap import Runtime
    from chalicelib.config import Settings
    from chalicelib.storage.s3 import S3Options, S3Storage
    from chalicelib.webapp import create_app
    from tests import s3_wire

    tmp = Path(tempfile.mkdtemp(prefix="s3count-"))
    key = secrets.token_urlsafe(24)
    store = S3Storage.from_options(
        S3Options(bucket=f"count-{uuid.uuid4().hex[:10]}", endpoint=endpoint, access_key="test", secret_key="test")
    )
    assert store.check(create=True) is None
    settings = Settings(data_dir=tmp / "d", secrets_dir=tmp / "s", admin_key=key, storage="s3")
    runtime = Runtime(settings, storage=store)
    ops: Counter[str] = Counter()
    statuses: list[str] = []
    s3_wire.watch(store.client, lambda op, _headers: ops.update([op]), lambda op, st: statuses.append(f"{op} {st}"))
    admin = {"Authorization": f"Bearer {key}"}
    results: dict[str, Any] = {}
    with Client(create_app(runtime)) as client:
        created = json.loads(client.http.post("/api/keys", body='{"name":"b","permissions":["read","write"]}',
                                              headers=admin).body)  # fmt: skip
        token = json.loads(client.http.post("/api/login", body=json.dumps({"key": created["secret"]})).body)["token"]
        client.http.put("/entity/db", body=json.dumps({"w": 0}), headers=admin)  # schema cache warm
        client.http.delete("/entity/db?key=w", headers=admin)  # learns conditional-delete support

        def measure(
            label: str, method: str, path: str, body: str | None, headers: dict[str, str], app: Client = client
        ) -> None:
            ops.clear()
            statuses.clear()
            r = app.http.request(method, path, body=body, headers=headers)
            assert r.status_code == 200, (label, r.status_code, r.body)
            results[label] = {"requests": sum(ops.values()), "by_operation": dict(ops), "responses": list(statuses)}

        for who, h in (("admin key", admin), ("session of an API key", {"Authorization": f"Bearer {token}"})):
            measure(f"PUT 1 entity [{who}]", "PUT", "/entity/db", json.dumps({"k": {"doc": DOC}}), h)
            measure(f"PUT 10 entities [{who}]", "PUT", "/entity/db",
                    json.dumps({f"m{i}": i for i in range(10)}), h)  # fmt: skip
            runtime.processing.entity_handler.entities.cache.clear()
            measure(f"GET cold [{who}]", "GET", "/entity/db?key=k", None, h)
            measure(f"GET warm [{who}]", "GET", "/entity/db?key=k", None, h)
            measure(f"DELETE [{who}]", "DELETE", "/entity/db?key=m0", None, h)

        # The same session on an app that reuses key records for 5 s (DELTADB_APIKEY_REVALIDATE_SECONDS).
        h = {"Authorization": f"Bearer {token}"}
        with Client(create_app(Runtime(replace(settings, apikey_revalidate_seconds=5.0), storage=store))) as reusing:
            reusing.http.put("/entity/db", body=json.dumps({"w": 0}), headers=h)  # reads the key record, the schema
            reusing.http.get("/entity/db?key=k", headers=h)  # warms the value cache
            measure(f"PUT 1 entity [{REUSED}]", "PUT", "/entity/db", json.dumps({"k": {"doc": DOC}}), h, reusing)
            measure(f"GET warm [{REUSED}]", "GET", "/entity/db?key=k", None, h, reusing)
    return results
