"""The log line format: the same lines as logging's own formatter, made cheaper; audit times as isoformat gives them."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from chalicelib.logs import FORMAT, LineFormatter
from chalicelib.timestamps import utc_now_ms


def test_lines_are_what_the_standard_formatter_writes() -> None:
    standard, ours = logging.Formatter(FORMAT), LineFormatter()
    for i in range(5000):  # 69 s of records, 13.7 ms apart: every second boundary crossed
        record = logging.LogRecord("deltadb.access", logging.INFO, __file__, 1, "line %s", (i,), None)
        record.created = 1764561687.0 + i * 0.0137
        record.msecs = float(int((record.created - int(record.created)) * 1000))
        assert ours.format(record) == standard.format(record)


def test_audit_times_read_like_isoformat_in_utc() -> None:
    before = datetime.now(UTC).isoformat(timespec="milliseconds")
    now = utc_now_ms()
    after = datetime.now(UTC).isoformat(timespec="milliseconds")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", now)
    assert before <= now <= after
