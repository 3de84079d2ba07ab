"""Filesystem Storage: one file per object under a root folder.

Durability and atomicity: a write goes to a temp file in the target folder, is
fsynced, renamed over the target and the folder is fsynced, all before ``put``
returns. Temp files are named ``.tmp.<pid>.<random><count>``; encoded names never start
with ``.``, so they cannot collide with objects. A temp file is removed when its
write fails; one left by a killed process is swept by :meth:`FileStorage.sweep_temp_files`.

The folder fsync is group-committed (:class:`fs_sync.DirSync`): one fsync started after a
rename covers every rename made before it, so concurrent writers into one folder
share folder fsyncs instead of queueing one each.

Mutations of one object are serialised by a per-key lock (:class:`fs_sync.KeyLocks`: Linux
open-file-description byte-range locks on ``<root>/.deltadb.lock``, one byte per key
stripe), held only around the check-and-rename. Threads and processes exclude each
other alike, so conditional writes (``if_match``) are true compare-and-swap, while
writers of different keys never wait for each other.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from chalicelib.caches import Bounded
from chalicelib.process_ids import PerProcessIds
from chalicelib.storage.base import NotModified, ObjectNotFound, Page, StoredObject, VersionMismatch
from chalicelib.storage.fs_listing import FolderListings, folders_with_objects
from chalicelib.storage.fs_sync import DirSync, KeyLocks, fsync_dir

_TMP_PREFIX = ".tmp."
_LOCK_FILE = ".deltadb.lock"
_CACHED_DIRS = 10_000


# Temp file names: the pid (where the sweep reads it) and a random part once per process, a count per write.
_TEMP_NAMES = PerProcessIds(lambda: f"{_TMP_PREFIX}{os.getpid()}.{secrets.token_hex(8)}")


def _etag(st: os.stat_result) -> str:
    # A rename-replace always brings a new inode, so (inode, mtime, size) names a version.
    return f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._prefix = os.path.join(self.root, "")
        # Bounded: every database, and every asynchronous operation, has folders of its own.
        self._known_dirs: Bounded[str, bool] = Bounded.lru(_CACHED_DIRS)
        self._dir_syncs: Bounded[str, DirSync] = Bounded.lru(_CACHED_DIRS)
        self._dir_syncs_guard = threading.Lock()
        self._locks = KeyLocks(os.path.join(self.root, _LOCK_FILE))
        self._listings = FolderListings()

    # -- reading ---------------------------------------------------------------------
    def _path(self, key: str) -> str:
        # Keys are relative ("entities/<db>/<key>"): a plain concatenation, never os.path.join,
        # which would also let a key that starts with "/" name a file outside the root.
        return self._prefix + key

    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject:
        path = self._path(key)
        if if_none_match is not None:
            # Revalidating a copy the caller holds (a warm GET): when it is still current,
            # one stat answers, instead of open + fstat + close.
            try:
                if _etag(os.stat(path)) == if_none_match:
                    raise NotModified(key)
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectNotFound(key) from None
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except NotADirectoryError:
            raise ObjectNotFound(key) from None
        try:
            st = os.fstat(fd)
            etag = _etag(st)
            if if_none_match is not None and etag == if_none_match:
                raise NotModified(key)
            chunks = []
            remaining = st.st_size
            while True:
                chunk = os.read(fd, max(remaining, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return StoredObject(b"".join(chunks), etag)
        finally:
            os.close(fd)

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix)
        if not os.path.isdir(base):
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            for name in filenames:
                if not name.startswith("."):
                    yield name if rel == "." else f"{rel}/{name}"

    def list_page(self, folder: str, *, after: str = "", starts_with: str = "", limit: int = 100) -> Page:
        return self._listings.page(self._path(folder), after=after, starts_with=starts_with, limit=limit)

    def list_folders(self, prefix: str) -> tuple[str, ...]:
        return tuple(folders_with_objects(self._path(prefix)))

    # -- writing ---------------------------------------------------------------------
    def _ensure_dir(self, directory: str, *, recheck: bool = False) -> None:
        if not recheck and self._known_dirs.get(directory):
            return
        missing = []
        d = directory
        while not os.path.isdir(d):
            missing.append(d)
            d = os.path.dirname(d)
        for new in reversed(missing):
            try:
                os.mkdir(new, 0o700)
            except FileExistsError:
                pass
            fsync_dir(os.path.dirname(new))  # make the new folder entry durable
        self._known_dirs.put(directory, True)

    def _dir_sync(self, directory: str) -> DirSync:
        syncer = self._dir_syncs.get(directory)
        if syncer is None:
            with self._dir_syncs_guard:
                syncer = self._dir_syncs.get(directory)
                if syncer is None:  # (an evicted one still works: it only shares fsyncs less)
                    syncer = DirSync(directory)
                    self._dir_syncs.put(directory, syncer)
        return syncer

    @staticmethod
    def _current_etag(path: str) -> str | None:
        try:
            return _etag(os.stat(path))
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        path = self._path(key)
        directory = os.path.dirname(path)
        self._ensure_dir(directory)
        tmp = directory + "/" + _TEMP_NAMES.next()
        renamed = False
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:  # the folder was removed since we made it (an expired operation's)
                self._ensure_dir(directory, recheck=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # marks the temp file as in use, for the sweep
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fdatasync(fd)  # data and size; the rename is made durable by the folder fsync
                etag = _etag(os.fstat(fd))  # a rename keeps inode, mtime and size
            finally:
                os.close(fd)
            with self._locks.hold(key):
                if if_none_match or if_match is not None:
                    current = self._current_etag(path)
                    if if_none_match and current is not None:
                        raise VersionMismatch(key)
                    if if_match is not None and current != if_match:
                        raise VersionMismatch(key)
                os.rename(tmp, path)
                renamed = True
            self._dir_sync(directory).sync()
            return etag
        finally:
            if not renamed:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._path(key)
        directory = os.path.dirname(path)
        with self._locks.hold(key):
            current = self._current_etag(path)
            if current is None:
                raise ObjectNotFound(key)
            if if_match is not None and current != if_match:
                raise VersionMismatch(key)
            os.unlink(path)
        self._dir_sync(directory).sync()

    # -- maintenance -----------------------------------------------------------------
    def check(self) -> str | None:
        if not os.path.isdir(self.root):
            return f"data folder {self.root} does not exist"
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            return f"data folder {self.root} is not readable and writable"
        return None

    def sweep_temp_files(self, older_than_seconds: float = 60.0) -> int:
        """Remove temp files left by killed writers; return how many.

        A temp file goes when its writer process is gone (or a zombie), or when it is
        older than ``older_than_seconds`` and no process holds its lock (the writer's pid
        may have been reused). A live writer holds an ``flock`` on its temp file.
        """
        removed = 0
        now = time.time()
        for dirpath, _dirs, filenames in os.walk(self.root):
            for name in filenames:
                if not name.startswith(_TMP_PREFIX):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    pid = int(name.split(".")[2])
                except (ValueError, IndexError):
                    pid = 0
                try:
                    gone = pid <= 0 or not _pid_alive(pid)
                    if gone or (now - os.stat(path).st_mtime > older_than_seconds and not _locked_by_writer(path)):
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed


def _locked_by_writer(path: str) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` is a running process (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno != errno.EPERM:
            return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # "pid (comm) state ...": comm may contain spaces or parentheses.
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc: trust kill(0)
