"""The process's logging: one line format, the audit file, and no secrets from botocore.

Log lines are on every request's path (the access log at INFO, an audit line per write),
so the format's time is made the cheap way: the date and time of day once per second,
the milliseconds per line (``LineFormatter``; the standard formatter calls ``strftime``
for every line).
"""

from __future__ import annotations

import logging

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


def setup_logging(settings: Settings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(LineFormatter())
        root.addHandler(handler)
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
