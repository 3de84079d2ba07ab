"""Sorted, paged listings of one folder of the filesystem adapter.

A page is a binary search into the folder's sorted names. The sorted names are kept per
folder and reused while the folder's mtime is unchanged (any create, rename or delete in
it changes the mtime), so walking 100,000 entities page by page scans the folder once,
not once per page. A listing taken within a second of the folder's last change is not
kept: the mtime's granularity could hide a change made in the same tick.
"""

from __future__ import annotations

import bisect
import os
import time

from chalicelib.caches import Bounded
from chalicelib.storage.base import Page

_QUIET_NS = 1_000_000_000  # a folder unchanged this long may be cached
_CACHED_FOLDERS = 256


class FolderListings:
    def __init__(self) -> None:
        self._sorted: Bounded[str, tuple[int, list[str]]] = Bounded.lru(_CACHED_FOLDERS)

    def _names(self, directory: str) -> list[str]:
        try:
            mtime = os.stat(directory).st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return []
        cached = self._sorted.get(directory)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        with os.scandir(directory) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file(follow_symlinks=False))
        if time.time_ns() - mtime > _QUIET_NS:
            self._sorted.put(directory, (mtime, names))
        return names

    def page(self, directory: str, *, after: str, starts_with: str, limit: int) -> Page:
        names = self._names(directory)
        # after the cursor, or at the first name that can start with the prefix, whichever is later
        start = bisect.bisect_right(names, after) if after >= starts_with else bisect.bisect_left(names, starts_with)
        chosen: list[str] = []
        for name in names[start:]:
            if not name.startswith(starts_with):
                break  # sorted: nothing later starts with it either
            if len(chosen) == limit:
                return Page(chosen, True)
            chosen.append(name)
        return Page(chosen, False)


def folders_with_objects(directory: str) -> list[str]:
    """Sorted names of the sub-folders of ``directory`` holding at least one object."""
    out = []
    try:
        with os.scandir(directory) as entries:
            subfolders = [e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    for path in subfolders:
        with os.scandir(path) as inner:
            if any(not e.name.startswith(".") and e.is_file(follow_symlinks=False) for e in inner):
                out.append(os.path.basename(path))
    return sorted(out)
