"""RFC 3339 timestamps in UTC with whole seconds: the one format of times in the API and in records."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class PerSecond:
    """``strftime`` of a moment, made once per second: log and audit lines are on request paths."""

    def __init__(self, fmt: str, convert: Callable[[float], time.struct_time]) -> None:
        self._fmt, self._convert = fmt, convert
        self._last: tuple[int, str] = (-1, "")  # one tuple: threads never see half an update

    def text(self, moment: float) -> str:
        second = int(moment)
        last = self._last
        if last[0] != second:
            last = self._last = (second, time.strftime(self._fmt, self._convert(second)))
        return last[1]


_ISO_SECOND = PerSecond("%Y-%m-%dT%H:%M:%S", time.gmtime)


def utc_now_ms() -> str:
    """Now as ``datetime.now(UTC).isoformat(timespec="milliseconds")`` gives it, at a third of the cost."""
    now = time.time()
    return f"{_ISO_SECOND.text(now)}.{int((now - int(now)) * 1000):03d}+00:00"
