"""FileStorage: atomic durable writes, CAS, no temp files left, safe under concurrency."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from chalicelib.storage.base import NotModified, ObjectNotFound, VersionMismatch
from chalicelib.storage.fs import FileStorage
from chalicelib.storage.memory import MemoryStorage
from tests.forks import in_forked_child
from tests.storage_helpers import cas_increment, cas_race, run_together


@pytest.fixture(params=["fs", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FileStorage | MemoryStorage:
    return FileStorage(tmp_path) if request.param == "fs" else MemoryStorage()


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp.*")]


def test_put_get_delete_list(storage: FileStorage | MemoryStorage) -> None:
    e1 = storage.put("files/db/a", b"one")
    assert storage.get("files/db/a").data == b"one"
    assert storage.get("files/db/a").etag == e1
    e2 = storage.put("files/db/a", b"two")
    assert e2 != e1
    storage.put("files/db/b", b"x")
    storage.put("templates/s.json", b"{}")
    assert sorted(storage.list("files/")) == ["files/db/a", "files/db/b"]
    storage.delete("files/db/a")
    with pytest.raises(ObjectNotFound):
        storage.get("files/db/a")
    with pytest.raises(ObjectNotFound):
        storage.delete("files/db/a")
    assert list(storage.list("nothing/")) == []


def test_conditional_writes(storage: FileStorage | MemoryStorage) -> None:
    e1 = storage.put("k/x", b"1", if_none_match=True)
    with pytest.raises(VersionMismatch):
        storage.put("k/x", b"2", if_none_match=True)
    with pytest.raises(VersionMismatch):
        storage.put("k/x", b"2", if_match='"stale"')
    with pytest.raises(VersionMismatch):
        storage.put("k/missing", b"2", if_match=e1)
    e2 = storage.put("k/x", b"2", if_match=e1)
    with pytest.raises(NotModified):
        storage.get("k/x", if_none_match=e2)
    assert storage.get("k/x", if_none_match=e1).data == b"2"
    with pytest.raises(VersionMismatch):
        storage.delete("k/x", if_match=e1)
    storage.delete("k/x", if_match=e2)
    with pytest.raises(ObjectNotFound):  # revalidating a copy of an object deleted since
        storage.get("k/x", if_none_match=e2)
    e3 = storage.put("k/y", b"3")
    with pytest.raises(ObjectNotFound):  # a file where a folder would be
        storage.get("k/y/below", if_none_match=e3)


def test_failed_write_leaves_no_temp_file_and_keeps_old_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = FileStorage(tmp_path)
    fs.put("files/db/k", b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "injected I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    monkeypatch.setattr(os, "fdatasync", broken_fsync)
    with pytest.raises(OSError):
        fs.put("files/db/k", b"new")
    monkeypatch.undo()
    assert fs.get("files/db/k").data == b"old"
    assert temp_files(tmp_path) == []


def test_failed_condition_leaves_no_temp_file(tmp_path: Path) -> None:
    fs = FileStorage(tmp_path)
    fs.put("files/db/k", b"old")
    with pytest.raises(VersionMismatch):
        fs.put("files/db/k", b"new", if_none_match=True)
    assert temp_files(tmp_path) == []


def test_folder_fsync_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = FileStorage(tmp_path)
    fs.put("files/db/k", b"old")
    real_fsync = os.fsync

    def fsync_failing_on_folders(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(5, "injected I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_failing_on_folders)
    with pytest.raises(OSError):
        fs.put("files/db/k", b"new")  # not acknowledged: the caller sees the failure
    monkeypatch.undo()
    assert temp_files(tmp_path) == []


def test_group_commit_under_concurrency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent writers share folder fsyncs, and each put waits for one started after its rename."""
    import time

    fs = FileStorage(tmp_path)
    fs.put("files/db/warmup", b"x")
    real_fsync = os.fsync
    sync_starts: list[float] = []
    lock = threading.Lock()

    def slow_folder_fsync(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            with lock:
                sync_starts.append(time.monotonic())
            time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_folder_fsync)
    renamed_at: dict[int, float] = {}
    real_rename = os.rename

    def recording_rename(src: str, dst: str) -> None:
        real_rename(src, dst)
        renamed_at[int(dst.rsplit("k", 1)[1])] = time.monotonic()

    monkeypatch.setattr(os, "rename", recording_rename)
    returned_at: dict[int, float] = {}

    def put(i: int) -> None:
        fs.put(f"files/db/k{i}", b"v" * 100)
        returned_at[i] = time.monotonic()

    run_together(put, [(i,) for i in range(32)])
    assert len(sync_starts) <= 4  # 32 writers, a handful of folder fsyncs
    for i in range(32):  # each put returned after a folder fsync that began after its rename had finished
        assert any(renamed_at[i] <= start <= returned_at[i] - 0.05 for start in sync_starts), i


def test_files_are_private(tmp_path: Path) -> None:
    fs = FileStorage(tmp_path)
    fs.put("files/db/k", b"x")
    assert (tmp_path / "files/db/k").stat().st_mode & 0o077 == 0


def test_sweep_removes_temp_files_of_dead_processes_only(tmp_path: Path) -> None:
    fs = FileStorage(tmp_path)
    fs.put("files/db/k", b"x")
    dead = subprocess_pid_that_exited()
    stale = tmp_path / "files/db" / f".tmp.{dead}.abcd"
    live = tmp_path / "files/db" / f".tmp.{os.getpid()}.abcd"
    stale.write_bytes(b"partial")
    live.write_bytes(b"in flight")
    assert fs.sweep_temp_files() == 1
    assert not stale.exists() and live.exists()
    assert fs.get("files/db/k").data == b"x"


def subprocess_pid_that_exited() -> int:
    p = multiprocessing.get_context("spawn").Process(target=int)
    p.start()
    p.join()
    assert p.pid is not None
    return p.pid


def test_concurrent_thread_writers_never_corrupt(tmp_path: Path) -> None:
    fs = FileStorage(tmp_path)
    values = {i: bytes([i]) * (1000 + i) for i in range(16)}
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for _ in range(25):
                fs.put("files/db/hot", values[i])
                assert fs.get("files/db/hot").data in values.values()
        except BaseException as exc:
            errors.append(exc)

    run_together(writer, [(i,) for i in range(16)])
    assert errors == []
    assert fs.get("files/db/hot").data in values.values()
    assert temp_files(tmp_path) == []


def test_cas_increments_are_never_lost_across_threads(tmp_path: Path) -> None:
    assert cas_race(FileStorage(tmp_path), "c/n", threads=8, times=20) == b"160"


def _process_writer(root: str, i: int, n: int) -> None:
    fs = FileStorage(Path(root))
    for j in range(n):
        fs.put("files/db/hot", f"{i}:{j}:".encode() + b"x" * 2000)
        fs.put(f"files/db/p{i}-{j}", f"{i}:{j}".encode())
    cas_increment(fs, "c/n", n)  # compare-and-swap across processes


def test_concurrent_process_writers_never_corrupt(tmp_path: Path) -> None:
    fs = FileStorage(tmp_path)
    fs.put("c/n", b"0")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(tmp_path), i, 30)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    hot = fs.get("files/db/hot").data
    assert hot.endswith(b"x" * 2000) and hot.count(b":") == 2
    assert len([k for k in fs.list("files/") if "/p" in k]) == 120
    assert fs.get("c/n").data == b"120"
    assert temp_files(tmp_path) == []


def test_a_write_into_a_folder_removed_meanwhile_recreates_it(tmp_path: Path) -> None:
    """Expired operations' folders are removed while a process still remembers having made them."""
    import shutil

    store = FileStorage(tmp_path)
    store.put("_ops/a/results/k", b"1")
    shutil.rmtree(tmp_path / "_ops")
    store.put("_ops/a/results/k", b"2")
    assert store.get("_ops/a/results/k").data == b"2"


def test_temp_names_are_unique_carry_the_pid_and_differ_in_a_forked_child(tmp_path: Path) -> None:
    from chalicelib.storage.fs import _TEMP_NAMES

    names = {_TEMP_NAMES.next() for _ in range(10_000)}
    assert len(names) == 10_000
    assert {n.split(".")[2] for n in names} == {str(os.getpid())}  # where the sweep reads the writer's pid
    pid, child = in_forked_child(_TEMP_NAMES.next, tmp_path)
    assert child.split(".")[2] == str(pid) and child not in names
    assert child.split(".")[3][:16] != next(iter(names)).split(".")[3][:16]  # a random part of its own
