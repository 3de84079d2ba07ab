"""The Storage port: a flat namespace of small objects with a version tag each.

Keys are ``/``-separated, built only from :mod:`chalicelib.names`-encoded components,
e.g. ``files/<db>/<key>``. Every write is atomic: a reader sees the old object or the
new one, never a mix, and a write that returns has been made durable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredObject:
    data: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of object names directly in a folder, in code-point order (S3's order too)."""

    names: list[str]  # leaf names, without the folder
    more: bool  # whether names after the last one exist


class ObjectNotFound(Exception):
    pass


class VersionMismatch(Exception):
    """An ``if_match`` / ``if_none_match`` condition did not hold: the stored version is not the one expected.

    (The API reports it as chalicelib.errors.PreconditionFailed, 412.)
    """


class StorageUnavailable(Exception):
    """The store failed (after the client's own retries); nothing was half-written."""


class NotModified(Exception):
    """``get(..., if_none_match=etag)`` and the object still has that etag."""


class Storage(Protocol):
    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject:
        """Raise ObjectNotFound, or NotModified when the etag still matches."""

    def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Store ``data`` durably and return its new etag.

        ``if_none_match=True`` creates only; ``if_match`` replaces only that version.
        Raise VersionMismatch when the condition does not hold.
        """

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Raise ObjectNotFound or VersionMismatch."""

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (which ends with ``/``), in no particular order."""

    def list_page(self, folder: str, *, after: str = "", starts_with: str = "", limit: int = 100) -> Page:
        """Names of the objects directly in ``folder`` (ending with ``/``) that sort after ``after``
        and start with ``starts_with``, at most ``limit``. One request on S3, no full scan."""

    def list_folders(self, prefix: str) -> tuple[str, ...]:
        """Sorted names of the folders directly under ``prefix`` that hold at least one object."""

    def check(self) -> str | None:
        """A plain-words problem with the store (for start-up and admin health), or None."""
