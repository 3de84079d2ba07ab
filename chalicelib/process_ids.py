"""Names unique across processes and calls, without a random draw per call.

A prefix is drawn once per process (again in a forked child: Granian forks its server
processes) and a counter follows it. Request ids and temp file names use it: a
``getrandom`` per request was ~10 % of a GET's CPU, a ``getpid`` + ``getrandom`` per PUT
two system calls.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable


class PerProcessIds:
    def __init__(self, prefix: Callable[[], str], digits: int = 0) -> None:
        self._make_prefix = prefix
        self._format = f"0{digits}x" if digits else "x"  # the counter in hex, zero-padded to ``digits``
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = self._make_prefix()
        self._counter = itertools.count()

    def next(self) -> str:
        return self._prefix + format(next(self._counter), self._format)
