"""Running a little code in a forked child, for state that must differ after a fork (ids, names)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def in_forked_child(make: Callable[[], str], scratch: Path) -> tuple[int, str]:
    """The child's pid and what ``make()`` returned in it; the child leaves at once after."""
    out = scratch / f"child-{os.getpid()}"
    pid = os.fork()
    if pid == 0:
        try:
            out.write_text(make())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid, out.read_text()
