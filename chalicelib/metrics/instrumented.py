"""A Storage that counts and times every operation of the one it wraps.

Only built when metrics are on (chalicelib/bootstrap.py), so metrics off costs the
storage path nothing. Labels: the backend (fs, s3, memory) and the operation name;
never the object's key. Not found, not modified and version conflicts are answers of a
healthy store; anything else raised is counted as an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from chalicelib.metrics.base import Metrics
from chalicelib.storage.base import NotModified, ObjectNotFound, Page, Storage, StoredObject, VersionMismatch

T = TypeVar("T")
ANSWERS = (ObjectNotFound, NotModified, VersionMismatch)


class InstrumentedStorage:
    def __init__(self, inner: Storage, metrics: Metrics, backend: str) -> None:
        self.inner = inner  # (the admin health report names the wrapped adapter)
        self._metrics = metrics
        self._backend = backend

    def _timed(self, operation: str, run: Callable[[], T]) -> T:
        started = time.perf_counter()
        failed = False
        try:
            return run()
        except ANSWERS:
            raise
        except BaseException:
            failed = True
            raise
        finally:
            self._metrics.storage_operation(self._backend, operation, time.perf_counter() - started, failed)

    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject:
        return self._timed("get", lambda: self.inner.get(key, if_none_match=if_none_match))

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        return self._timed("put", lambda: self.inner.put(key, data, if_match=if_match, if_none_match=if_none_match))

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self._timed("delete", lambda: self.inner.delete(key, if_match=if_match))

    def list(self, prefix: str) -> Iterator[str]:
        # Lazy, like the adapters' own: one operation from the first name to the last (or to
        # where the caller stopped), failed when the walk raised.
        started = time.perf_counter()
        failed = False
        try:
            yield from self.inner.list(prefix)
        except GeneratorExit:
            raise
        except BaseException:
            failed = True
            raise
        finally:
            self._metrics.storage_operation(self._backend, "list", time.perf_counter() - started, failed)

    def list_page(self, folder: str, *, after: str = "", starts_with: str = "", limit: int = 100) -> Page:
        return self._timed(
            "list_page", lambda: self.inner.list_page(folder, after=after, starts_with=starts_with, limit=limit)
        )

    def list_folders(self, prefix: str) -> tuple[str, ...]:
        return self._timed("list_folders", lambda: self.inner.list_folders(prefix))

    def check(self) -> str | None:
        return self._timed("check", self.inner.check)
