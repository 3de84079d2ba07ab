"""What one durable write of a small file costs the kernel, by scheme: the lever below our code.

Three ways to make a 1,181-byte object (a 1 KiB document, sealed) durable on this
filesystem, each timed in one process (user and system CPU from ``getrusage``, wall
time), alternating, in a fresh folder under ``--dir``:

* ``replace``: what FileStorage and bench/reference_server.py do: a temp file,
  ``fdatasync``, rename over the name, folder ``fsync`` (a new key each write);
* ``create``: a new key's file made under its own name, ``fdatasync``, folder ``fsync``
  (no rename; readers could see it half-written, so it needs a format that tells so);
* ``in-place``: an existing key's file rewritten in blocks written before (two slots
  of 4 KiB, alternating), ``fdatasync`` only: no metadata changes, no journal commit.

    .venv/bin/python bench/durable_write_bench.py [--writes 1500] [--rounds 3] [--dir /tmp]

Measured figures and what they mean for the design: bench/README.md, "Durable-write schemes".
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable

from chalicelib.storage.fs_sync import fsync_dir  # the folder sync FileStorage makes

DATA = os.urandom(1181)


def schemes(folder: str) -> dict[str, Callable[[int], None]]:
    slots: dict[int, int] = {}

    def replace(i: int) -> None:
        tmp = f"{folder}/.tmp.{i}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, DATA)
        os.fdatasync(fd)
        os.close(fd)
        os.rename(tmp, f"{folder}/r{i}")
        fsync_dir(folder)

    def create(i: int) -> None:
        fd = os.open(f"{folder}/c{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, DATA)
        os.fdatasync(fd)
        os.close(fd)
        fsync_dir(folder)

    def in_place(i: int) -> None:
        key = i % 500
        fd = slots.get(key)
        if fd is None:  # made once, both slots written: later writes allocate nothing
            fd = os.open(f"{folder}/s{key}", os.O_RDWR | os.O_CREAT, 0o600)
            os.pwrite(fd, bytes(8192), 0)
            os.fsync(fd)
            fsync_dir(folder)
            slots[key] = fd
        os.pwrite(fd, DATA, 4096 * (i % 2))
        os.fdatasync(fd)

    for i in range(-500, 0):  # every in-place key's file exists before the timing
        in_place(i)
    return {"replace": replace, "create": create, "in-place": in_place}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writes", type=int, default=1500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", default=tempfile.gettempdir(), help="where the test folder is made (the filesystem)")
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="durable-write-", dir=args.dir)
    try:
        ways = schemes(folder)
        print(f"{'scheme':10} {'user µs':>8} {'system µs':>10} {'wall µs':>8}   (per write, {args.writes} a round)")
        for r in range(args.rounds):
            for name, write in ways.items():
                before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                for i in range(args.writes):
                    write(r * args.writes + i)
                wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
                user = (after.ru_utime - before.ru_utime) / args.writes * 1e6
                system = (after.ru_stime - before.ru_stime) / args.writes * 1e6
                print(f"{name:10} {user:8.0f} {system:10.0f} {wall / args.writes * 1e6:8.0f}")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
