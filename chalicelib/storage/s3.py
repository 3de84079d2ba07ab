"""S3 Storage: one object per entity on any S3-compatible store.

- One request per write: ``PutObject`` of header and ciphertext together (no second
  object, so no half-done state). Create-only is ``If-None-Match: *``; replace-only-
  that-version is ``If-Match: <etag>``. A lost race (412, or 409
  ConditionalRequestConflict) is reported as PreconditionFailed, never overwritten.
- At most one request per read; ``get(..., if_none_match=etag)`` is a conditional GET
  that transfers no body when unchanged (304).
- Throttling (503 SlowDown), 5xx and dropped connections are retried by botocore's own
  retry modes (``standard`` by default, ``adaptive`` on request); what still fails is
  StorageUnavailable, which the API answers with 503.
- Delete: HEAD for the current ETag, then ``DeleteObject`` with ``If-Match`` on it, so a
  concurrent replace is never deleted unseen. On servers without conditional deletes
  (LocalStack answers NotImplemented) it falls back to a plain delete after the HEAD.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header

from chalicelib.storage.base import NotModified, ObjectNotFound, PreconditionFailed, StorageUnavailable, StoredObject

log = logging.getLogger(__name__)

_MISSING = {"NoSuchKey", "404", "NotFound"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


@dataclass(frozen=True)
class S3Options:
    bucket: str = "deltadatabase"
    endpoint: str | None = None  # host:port or URL; None = AWS S3
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    use_ssl: bool = False
    retry_mode: str = "standard"
    max_attempts: int = 5
    unquoted_if_match: bool = False  # Ceph RadosGW matches If-Match only without quotes
    max_connections: int = 64
    create_bucket: bool = False  # check() creates a missing bucket (S3_CREATE_BUCKET)  [shim from main]

    def endpoint_url(self) -> str | None:
        if not self.endpoint:
            return None
        if "://" in self.endpoint:
            return self.endpoint
        return f"{'https' if self.use_ssl else 'http'}://{self.endpoint}"


def make_client(options: S3Options) -> Any:
    config = Config(
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
        connect_timeout=3,
        read_timeout=15,
        tcp_keepalive=True,
        max_pool_connections=options.max_connections,
        # Path-style for custom endpoints (MinIO, SeaweedFS, Ceph, LocalStack); AWS decides itself.
        s3={"addressing_style": "path" if options.endpoint else "auto"},
        # The envelope's AES-GCM tag already authenticates every byte; skip the extra
        # CRC32 (and stay compatible with stores that do not know flexible checksums).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    client = session.client(
        "s3",
        endpoint_url=options.endpoint_url(),
        aws_access_key_id=options.access_key or None,
        aws_secret_access_key=options.secret_key or None,
        region_name=options.region or ("us-east-1" if options.endpoint else None),
        use_ssl=options.use_ssl if options.endpoint else True,
        config=config,
    )
    # botocore sends every PutObject with "Expect: 100-continue" and holds the body until
    # the server answers 100: one extra network round trip per write. It saves uploading
    # a large body the server would refuse; ours are bounded by DELTADB_MAX_BODY, so a
    # write is one round trip instead of two.
    client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


class S3Storage:
    def __init__(self, client: Any, options: S3Options) -> None:
        self.client = client
        self.bucket = options.bucket
        self._unquoted = options.unquoted_if_match
        self._create_bucket = options.create_bucket
        self._conditional_delete = True  # until the server says it does not implement it

    @classmethod
    def from_options(cls, options: S3Options) -> S3Storage:
        return cls(make_client(options), options)

    def _if_match(self, etag: str) -> str:
        return etag.strip('"') if self._unquoted else etag

    def _unavailable(self, op: str, exc: Exception) -> StorageUnavailable:
        detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        log.error("S3 %s failed: %s", op, detail)
        return StorageUnavailable(f"S3 {op} failed: {detail}")

    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_none_match:
            kwargs["IfNoneMatch"] = if_none_match
        try:
            response = self.client.get_object(**kwargs)
            return StoredObject(response["Body"].read(), response["ETag"])
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING:
                raise ObjectNotFound(key) from None
            if code in {"304", "NotModified"}:
                raise NotModified(key) from None
            raise self._unavailable("GetObject", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("GetObject", exc) from None

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = self._if_match(if_match)
        try:
            return str(self.client.put_object(**kwargs)["ETag"])
        except ClientError as exc:
            code = _code(exc)
            if code in _CONFLICT:
                raise PreconditionFailed(key) from None
            if code in _MISSING and if_match is not None:
                raise PreconditionFailed(key) from None  # If-Match on an object that is gone
            raise self._unavailable("PutObject", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("PutObject", exc) from None

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        try:
            current = str(self.client.head_object(Bucket=self.bucket, Key=key)["ETag"])
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound(key) from None
            raise self._unavailable("HeadObject", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("HeadObject", exc) from None
        if if_match is not None and if_match.strip('"') != current.strip('"'):
            raise PreconditionFailed(key)
        try:
            if self._conditional_delete:
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=self._if_match(current))
                    return
                except ClientError as exc:
                    if _code(exc) not in {"NotImplemented", "501"}:
                        raise
                    log.warning("S3 server does not implement conditional DeleteObject; using plain deletes")
                    self._conditional_delete = False
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING:
                raise ObjectNotFound(key) from None
            if code in _CONFLICT:
                raise PreconditionFailed(key) from None
            raise self._unavailable("DeleteObject", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("DeleteObject", exc) from None

    def list(self, prefix: str) -> Iterator[str]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    yield obj["Key"]
        except ClientError as exc:
            raise self._unavailable("ListObjectsV2", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("ListObjectsV2", exc) from None

    # -- start-up and health -------------------------------------------------------
    def check(self, create: bool | None = None) -> str | None:
        """A plain-words problem with the bucket (missing, no access, no credentials), or None."""
        create = self._create_bucket if create is None else create
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return None
        except ClientError as exc:
            code = _code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                if create:
                    return self._create()
                return f"bucket {self.bucket!r} does not exist"
            if code in {"403", "AccessDenied", "Forbidden"}:
                return f"access to bucket {self.bucket!r} denied: check the credentials and the bucket policy"
            return f"bucket {self.bucket!r} unusable: {code}"
        except BotoCoreError as exc:
            return f"S3 endpoint unreachable or credentials missing: {exc}"

    def _create(self) -> str | None:
        try:
            self.client.create_bucket(Bucket=self.bucket)
            return None
        except ClientError as exc:
            return f"could not create bucket {self.bucket!r}: {_code(exc)}"
