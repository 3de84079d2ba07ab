"""Durations such as ``90s``, ``30m``, ``24h``, ``7d``, ``2w`` or ``1h30m``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")
MAX_SECONDS = 100 * 365 * 86400


def parse_duration(text: str) -> int:
    """Return the duration in seconds; ValueError when malformed, zero or absurdly long."""
    text = text.strip().lower()
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"invalid duration {text!r}: use forms like 30m, 24h, 7d, 1h30m")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
    if seconds <= 0 or seconds > MAX_SECONDS:
        raise ValueError(f"duration {text!r} out of range")
    return seconds


def parse_size(text: str) -> int:
    """Byte sizes: ``1048576``, ``512KiB``, ``1MiB``, ``2MB``."""
    m = re.fullmatch(r"\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*", text.lower())
    if not m:
        raise ValueError(f"invalid size {text!r}")
    mult = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
    return int(m.group(1)) * mult[m.group(2)]
