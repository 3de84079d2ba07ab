"""S3 Storage: one object per entity on any S3-compatible store.

- One request per write: ``PutObject`` of header and ciphertext together (no second
  object, so no half-done state). Create-only is ``If-None-Match: *``; replace-only-
  that-version is ``If-Match: <etag>``. A lost race (412, or 409
  ConditionalRequestConflict) is reported as VersionMismatch, never overwritten.
- At most one request per read; ``get(..., if_none_match=etag)`` is a conditional GET
  that transfers no body when unchanged (304).
- Throttling (503 SlowDown), 5xx and dropped connections are retried by botocore's own
  retry modes (``standard`` by default, ``adaptive`` on request); what still fails is
  StorageUnavailable, which the API answers with 503.
- Delete: HEAD for the current ETag, then ``DeleteObject`` with ``If-Match`` on it, so a
  concurrent replace is never deleted unseen. On servers without conditional deletes
  (LocalStack answers NotImplemented) it falls back to a plain delete after the HEAD.
- Retries answer as if the first reply had arrived (tests/integration/test_s3_faults.py):
  a write tagged with a random write id in its metadata is recognised as ours when its
  retry fails the precondition; a delete whose object is gone after our HEAD saw it is
  done; a reply cut short (no whole ETag, a short body) is read again, never trusted.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError

from chalicelib.storage.base import NotModified, ObjectNotFound, Page, StorageUnavailable, StoredObject, VersionMismatch
from chalicelib.storage.s3_client import S3Options as S3Options  # re-exported: the adapter and its options
from chalicelib.storage.s3_client import make_client

log = logging.getLogger(__name__)

_MISSING = {"NoSuchKey", "404", "NotFound"}
_WRITE_ID = "deltadb-write"  # object metadata (x-amz-meta-deltadb-write): which write stored this version
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


class _BrokenReply(Exception):
    """A reply botocore accepted but that cannot be whole: no usable ETag, or a short body."""


# What a lost, cut or late reply looks like once botocore's own retries are spent.
_TRANSIENT = (BotoCoreError, HTTPError, OSError, _BrokenReply)
_OWN_ATTEMPTS = 3  # our retries on top of botocore's, for replies it accepted but are broken


def _usable_etag(etag: object) -> bool:
    """A whole ETag header value; a reply cut inside its header block may carry a partial one."""
    return isinstance(etag, str) and len(etag) >= 2 and etag.startswith('"') == etag.endswith('"') and etag != '"'


class S3Storage:
    def __init__(self, client: Any, options: S3Options) -> None:
        self.client = client
        self.bucket = options.bucket
        self._unquoted = options.unquoted_if_match
        self._conditional_delete = True  # until the server says it does not implement it
        self._create_bucket = options.create_bucket

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
        if if_none_match and if_none_match.isascii():  # S3 ETags are ASCII: another never matches
            kwargs["IfNoneMatch"] = if_none_match
        failure: Exception = _BrokenReply()
        for _attempt in range(_OWN_ATTEMPTS):  # a read is safe to repeat
            try:
                response = self.client.get_object(**kwargs)
                data = response["Body"].read()
                etag = response.get("ETag")
                if not _usable_etag(etag) or response.get("ContentLength", len(data)) != len(data):
                    raise _BrokenReply()
                return StoredObject(data, etag)
            except ClientError as exc:
                code = _code(exc)
                if code in _MISSING:
                    raise ObjectNotFound(key) from None
                if code in {"304", "NotModified"}:
                    raise NotModified(key) from None
                raise self._unavailable("GetObject", exc) from None
            except _TRANSIENT as exc:
                failure = exc
        raise self._unavailable("GetObject", failure) from None

    def _ours(self, key: str, write_id: str) -> str | None:
        """The object's ETag when the stored version is the write tagged ``write_id``, else None."""
        try:
            head = self._head(key)
        except ObjectNotFound:
            return None
        metadata = {name.lower(): value for name, value in head.get("Metadata", {}).items()}  # any server's case
        return str(head["ETag"]) if metadata.get(_WRITE_ID) == write_id else None

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        # Every write carries a random id in its metadata: when a retry of a conditional
        # write fails its precondition, or a reply comes back without its ETag, the id
        # tells whether the stored version is this write's (its reply was lost) or another's.
        if if_match is not None and not if_match.isascii():
            raise VersionMismatch(key)  # S3 ETags are ASCII: this one cannot be the stored version
        write_id = secrets.token_hex(12)
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data, "Metadata": {_WRITE_ID: write_id}}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = self._if_match(if_match)
        failure: Exception = _BrokenReply()
        for _attempt in range(_OWN_ATTEMPTS):
            try:
                etag = self.client.put_object(**kwargs).get("ETag")
                if _usable_etag(etag):
                    return str(etag)
                raise _BrokenReply()  # applied, but the ETag did not arrive whole
            except ClientError as exc:
                code = _code(exc)
                lost_race = code in _CONFLICT or (code in _MISSING and if_match is not None)
                if not lost_race:
                    raise self._unavailable("PutObject", exc) from None
                mine = self._ours(key, write_id)  # an earlier attempt of this write, whose reply was lost?
                if mine is None:
                    raise VersionMismatch(key) from None
                return mine
            except _TRANSIENT as exc:
                failure = exc
                mine = self._ours_or_none(key, write_id)
                if mine is not None:
                    return mine
        raise self._unavailable("PutObject", failure) from None

    def _ours_or_none(self, key: str, write_id: str) -> str | None:
        try:
            return self._ours(key, write_id)
        except StorageUnavailable:
            return None

    def _head(self, key: str) -> dict[str, Any]:
        """HeadObject with a whole ETag; ObjectNotFound, or StorageUnavailable."""
        failure: Exception = _BrokenReply()
        for _attempt in range(_OWN_ATTEMPTS):
            try:
                head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
                if _usable_etag(head.get("ETag")):
                    return head
                raise _BrokenReply()
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise ObjectNotFound(key) from None
                raise self._unavailable("HeadObject", exc) from None
            except _TRANSIENT as exc:
                failure = exc
        raise self._unavailable("HeadObject", failure) from None

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        current = str(self._head(key)["ETag"])
        if if_match is not None and if_match.strip('"') != current.strip('"'):
            raise VersionMismatch(key)
        # The object existed with the expected version a moment ago. If it is gone by the
        # time the delete is answered (404, or 412 on a retry of a delete that applied),
        # that is this delete's own earlier attempt or an equal concurrent one: success.
        try:
            self._delete_version(key, current)
        except ObjectNotFound:
            return
        except VersionMismatch:
            try:
                now = str(self._head(key)["ETag"])
            except ObjectNotFound:
                return
            if now != current:
                raise
            self._delete_version(key, current)  # a spurious 412 on the version we saw: once more

    def _delete_version(self, key: str, etag: str) -> None:
        try:
            if self._conditional_delete:
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=self._if_match(etag))
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
                raise VersionMismatch(key) from None
            raise self._unavailable("DeleteObject", exc) from None
        except _TRANSIENT as exc:
            raise self._unavailable("DeleteObject", exc) from None

    def list(self, prefix: str) -> Iterator[str]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    yield obj["Key"]
        except ClientError as exc:
            raise self._unavailable("ListObjectsV2", exc) from None
        except _TRANSIENT as exc:
            raise self._unavailable("ListObjectsV2", exc) from None

    def list_page(self, folder: str, *, after: str = "", starts_with: str = "", limit: int = 100) -> Page:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": folder + starts_with, "Delimiter": "/"}
        if after:
            kwargs["StartAfter"] = folder + after
        try:
            page = self.client.list_objects_v2(MaxKeys=limit, **kwargs)
        except ClientError as exc:
            raise self._unavailable("ListObjectsV2", exc) from None
        except _TRANSIENT as exc:
            raise self._unavailable("ListObjectsV2", exc) from None
        names = [obj["Key"][len(folder) :] for obj in page.get("Contents", ())]
        return Page(names, bool(page.get("IsTruncated")))

    def list_folders(self, prefix: str) -> tuple[str, ...]:
        out: list[str] = []
        try:  # a "folder" in S3 exists only while an object is under it
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            for page in pages:
                out.extend(p["Prefix"][len(prefix) : -1] for p in page.get("CommonPrefixes", ()))
        except ClientError as exc:
            raise self._unavailable("ListObjectsV2", exc) from None
        except _TRANSIENT as exc:
            raise self._unavailable("ListObjectsV2", exc) from None
        return tuple(sorted(out))

    # -- start-up and health -------------------------------------------------------
    def check(self, create: bool | None = None) -> str | None:
        """A plain-words problem with the bucket (missing, no access, no credentials), or None.

        A missing bucket is created when ``create`` (default: the S3_CREATE_BUCKET option).
        """
        create = self._create_bucket if create is None else create
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return None
        except ClientError as exc:
            code = _code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                if create:
                    return self._create()
                return f"bucket {self.bucket!r} does not exist (create it, or start with --s3-create-bucket)"
            if code in {"403", "AccessDenied", "Forbidden"}:
                return f"access to bucket {self.bucket!r} denied: check the credentials and the bucket policy"
            return f"bucket {self.bucket!r} unusable: {code}"
        except (BotoCoreError, HTTPError, OSError) as exc:
            return f"S3 endpoint unreachable or credentials missing: {exc}"

    def _create(self) -> str | None:
        try:
            self.client.create_bucket(Bucket=self.bucket)
            return None
        except ClientError as exc:
            return f"could not create bucket {self.bucket!r}: {_code(exc)}"
