"""No process of a server outlives its parent.

Linux's ``PR_SET_PDEATHSIG`` asks the kernel for a signal when the parent dies, even
by ``kill -9``. It must be set in the child itself, and a parent that died before that
would never send it: so the child then checks that its parent is still the one
expected, and exits at once if not (it was already handed to init).

- ``deltadb up`` starts each worker's and the main worker's top process with
  ``die_with_parent(SIGTERM, <up's pid>)`` (a graceful stop of that server);
- each Granian process of a server calls ``guard_server_process()`` at ASGI lifespan
  startup: SIGKILL when its Granian parent dies (nothing is left to coordinate a
  graceful stop, and the port must be free for the restart). The launcher passes its
  pid in ``DELTADB_SERVER_PID``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

SERVER_PID_ENV = "DELTADB_SERVER_PID"  # set by the Granian launcher to its own pid
_PR_SET_PDEATHSIG = 1
# Looked up once, in the parent: die_with_parent also runs between fork and exec.
_prctl = ctypes.CDLL(None).prctl if sys.platform == "linux" else None


def die_with_parent(sig: int, parent: int) -> None:
    """Get ``sig`` when the parent dies; exit at once if ``parent`` is no longer it."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(sig))
    if os.getppid() != parent:
        os._exit(1)


def guard_server_process() -> None:
    """In a Granian worker process: die with the Granian process that started it."""
    expected = os.environ.get(SERVER_PID_ENV)
    if expected and os.getpid() != int(expected):
        die_with_parent(signal.SIGKILL, int(expected))
