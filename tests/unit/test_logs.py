"""Log and audit lines: logging's own format made cheaper, audit times as isoformat gives them, the direct ways."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib import audit
from chalicelib.logs import FORMAT, LineFormatter, StderrLines, direct_handler
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


def _stderr_lines(stream: io.StringIO) -> StderrLines:
    handler = StderrLines()
    handler.setStream(stream)
    return handler


@contextmanager
def only_our_handler() -> Iterator[StderrLines]:
    """The root logger as `deltadb serve` sets it up: our stderr handler alone (into a buffer here).

    Inside the test body: pytest adds its capture handlers to the root only for the call.
    """
    root = logging.root
    saved = root.handlers[:]
    handler = _stderr_lines(io.StringIO())
    root.handlers[:] = [handler]
    try:
        yield handler
    finally:
        root.handlers[:] = saved


def test_a_direct_line_is_the_line_logging_would_write() -> None:
    log = logging.getLogger("deltadb.audit")
    with only_our_handler() as ours:
        assert direct_handler(log, logging.INFO) is ours
        log.info('{"action":"x"}')
        ours.write("INFO", "deltadb.audit", '{"action":"x"}')
    stream = ours.stream
    assert isinstance(stream, io.StringIO)
    via_logging, direct = stream.getvalue().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(stamp + r' INFO deltadb\.audit: \{"action":"x"\}', direct), direct
    assert direct[23:] == via_logging[23:]  # the same line, but for the milliseconds between the two
    assert abs(datetime.strptime(direct[:19], "%Y-%m-%d %H:%M:%S").timestamp() - time.time()) < 5


def test_lines_go_through_logging_when_anything_else_listens() -> None:
    log = logging.getLogger("deltadb.audit")
    other = logging.StreamHandler(io.StringIO())
    with only_our_handler() as ours:
        _each_listener_turns_the_direct_way_off(log, other, ours)


def _each_listener_turns_the_direct_way_off(log: logging.Logger, other: logging.Handler, ours: StderrLines) -> None:
    for listen, stop in (
        (lambda: logging.root.addHandler(other), lambda: logging.root.removeHandler(other)),
        (lambda: log.addHandler(other), lambda: log.removeHandler(other)),
        (
            lambda: logging.getLogger("deltadb").addHandler(other),
            lambda: logging.getLogger("deltadb").removeHandler(other),
        ),
        (lambda: setattr(log, "propagate", False), lambda: setattr(log, "propagate", True)),
        (lambda: log.addFilter(logging.Filter("x")), lambda: log.filters.clear()),
        (lambda: logging.disable(logging.INFO), lambda: logging.disable(logging.NOTSET)),
        (lambda: ours.setLevel(logging.WARNING), lambda: ours.setLevel(logging.NOTSET)),
    ):
        listen()
        try:
            assert direct_handler(log, logging.INFO) is None
        finally:
            stop()
        assert direct_handler(log, logging.INFO) is ours


def test_audit_lines_take_the_direct_way_only_when_nobody_else_listens(caplog: pytest.LogCaptureFixture) -> None:
    with only_our_handler() as ours:
        audit.record("entity.write", actor="admin", target="db/direct", result="ok")
        logging.root.addHandler(caplog.handler)  # another listener (here pytest's): logging again
        try:
            audit.record("entity.write", actor="admin", target="db/logged", result="ok")
        finally:
            logging.root.removeHandler(caplog.handler)
    assert isinstance(ours.stream, io.StringIO)
    assert [json.loads(line.split(": ", 1)[1])["target"] for line in ours.stream.getvalue().splitlines()] == [
        "db/direct",
        "db/logged",
    ]
    assert [json.loads(r.getMessage())["target"] for r in caplog.records] == ["db/logged"]


def test_audit_file_lines_stay_whole_with_processes_appending_at_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    saved = audit._file
    try:
        audit.write_to(str(path))
        children = []
        for child in range(3):
            pid = os.fork()
            if pid == 0:
                try:
                    for i in range(2000):
                        audit.record("entity.write", actor=f"p{child}", target="t" * (i % 300), result="ok")
                finally:
                    os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        audit.record("entity.write", actor="parent", target="db", result="ok")
    finally:
        audit._file = saved
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6001
    actors = [json.loads(line)["actor"] for line in lines]  # every line whole: each parses
    assert sorted(set(actors)) == ["p0", "p1", "p2", "parent"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_a_failing_stream_or_file_never_fails_the_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError("stderr closed")

    handler = StderrLines()
    handler.setStream(Broken())
    handler.write("INFO", "deltadb.audit", "{}")  # no exception: reported as logging reports its own
    assert "--- Logging error ---" in capsys.readouterr().err
    saved = audit._file
    try:
        audit.write_to(str(tmp_path / "audit.log"))
        assert audit._file is not None
        os.close(audit._file._fd)  # the descriptor fails (EBADF) as a full disk would (ENOSPC)
        with caplog.at_level(logging.ERROR, logger="deltadb"):
            audit.record("entity.write", actor="admin", target="db", result="ok")
    finally:
        audit._file = saved
    assert any("could not append to the audit log" in r.getMessage() for r in caplog.records)


def test_a_name_with_invalid_utf8_still_gets_its_audit_line(tmp_path: Path) -> None:
    """A query's ``%ff`` reaches the audit target as a lone surrogate: written escaped, not a failure."""
    path = tmp_path / "audit.log"
    saved = audit._file
    try:
        audit.write_to(str(path))
        audit.record("entity.delete", actor="admin", target="db/\udcff", result="refused")
    finally:
        audit._file = saved
    line = path.read_text(encoding="utf-8")
    assert "db/\\udcff" in line  # ASCII on disk: a JSON escape
    assert json.loads(line)["target"] == "db/\udcff"  # which reads back as exactly the name sent
