"""The process's logging: one line format, the audit file, and no secrets from botocore.

Log lines are on every request's path (the access log at INFO, an audit line per write),
so the format's time is made the cheap way: the date and time of day once per second,
the milliseconds per line (``LineFormatter``; the standard formatter calls ``strftime``
for every line).
"""

from __future__ import annotations

import logging
import time

from chalicelib.config import Settings
from chalicelib.timestamps import PerSecond

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


class LineFormatter(logging.Formatter):
    """``logging.Formatter`` with ``FORMAT``, its asctime ("2026-12-01 04:01:27,123") made once per second."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._seconds = PerSecond(self.default_time_format, self.converter)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self._seconds.text(record.created)},{int(record.msecs):03d}"  # the standard "%s,%03d"

    def line(self, level: str, name: str, message: str) -> str:
        """What ``format`` gives for a record made now (the asctime as ``LogRecord`` computes it)."""
        now = time.time()
        return f"{self._seconds.text(now)},{int((now - int(now)) * 1000):03d} {level} {name}: {message}"


class StderrLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``setup_logging`` gives the root logger: ``LineFormatter`` lines on stderr.

    ``write`` puts a line on it without a ``LogRecord`` (about 9 µs of ``logging`` per line,
    the larger part of an audited request's cost of its audit line), for the loggers
    that only it hears (``direct_handler``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.formatter = self.line_formatter = LineFormatter()

    def write(self, level: str, name: str, message: str) -> None:
        text = self.line_formatter.line(level, name, message) + self.terminator
        try:
            with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
                self.stream.write(text)
                self.stream.flush()
        except Exception:  # as emit() does: a failing log stream never fails the request
            self.handleError(logging.LogRecord(name, logging.getLevelName(level), "", 0, message, None, None))


def direct_handler(logger: logging.Logger, level: int) -> StderrLines | None:
    """Our stderr handler when it is all that would hear ``logger``'s lines of ``level``, else None.

    Looked up per line: a handler or filter added since (another library's logging set-up,
    pytest's log capture) sends lines through ``logging`` again at once.
    """
    if logging.root.manager.disable >= level:
        return None
    current: logging.Logger | None = logger
    while current is not None and current is not logging.root:
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    root = logging.root
    if len(root.handlers) != 1 or root.filters:
        return None
    handler = root.handlers[0]
    if type(handler) is not StderrLines or handler.filters or handler.level > level:
        return None
    if handler.formatter is not handler.line_formatter:  # someone set another format: logging's way
        return None
    return handler


def setup_logging(settings: Settings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(StderrLines())
        root.setLevel(settings.log_level)
    logging.getLogger("deltadb").setLevel(settings.log_level)
    # Our format names no caller, thread or process: skip collecting them for every record
    # (the logging HOWTO's "Optimization" table; a few µs per access-log line).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if settings.audit_log is not None:  # each process opens the file itself, appending whole lines
        from chalicelib import audit

        audit.write_to(str(settings.audit_log))
    # At DEBUG, botocore logs whole request and response bodies: KMS data keys in clear,
    # S3 objects, signed headers. Those loggers never go below INFO here.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger(noisy).level))
