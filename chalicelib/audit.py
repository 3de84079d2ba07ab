"""The audit trail: one JSON line per security-relevant action, on the ``deltadb.audit`` logger.

Each line holds the time, the actor (an API key's id, ``"admin"``, an OIDC subject or
``"cli:<user>"``, never a secret), the action (a dotted name such as ``entity.write``),
the target (a database, ``db/key``, an API key's id or a key version id), the result
(``ok``, ``denied``, ``refused`` or ``failed``) and the request id when there is one.
Never a secret, a token or document content: ``detail`` takes only short scalars.

Where the lines go is the process's choice: ``deltadb serve|up --audit-log PATH`` appends
them to a file of their own (one ``write`` per whole line on an ``O_APPEND`` descriptor,
so the processes sharing the file never interleave within a line); by default they go
with the other logs to stderr (CloudWatch in Lambda). Neither way makes a ``LogRecord``
when nothing else listens (chalicelib/logs.py ``direct_handler``): ``logging`` would cost
more than the rest of the line.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import threading
from json.encoder import encode_basestring as _string  # json's C escaper (ensure_ascii=False)

from chalicelib.logs import direct_handler
from chalicelib.timestamps import utc_now_ms

AUDIT_LOGGER = "deltadb.audit"
log = logging.getLogger(AUDIT_LOGGER)
log.setLevel(logging.INFO)  # audit lines are kept whatever the general log level

OK = "ok"
DENIED = "denied"  # the credential was missing, invalid or lacked the permission
REFUSED = "refused"  # the request was understood and refused (bad input, a conflict, a key still in use)
FAILED = "failed"  # the store or a key service failed

Detail = str | int | bool | None
_LINE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # made once, not per line


def to_line(
    action: str,
    actor: str,
    target: str,
    result: str,
    request_id: str | None = None,
    detail: dict[str, Detail] | None = None,
    time: str | None = None,
) -> str:
    """One audit line: ``{"action","actor","target","result","request_id"[,"detail"],"time"}``.

    Exactly what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` gives for that
    dict (tests/unit/test_json_text.py), built from json's own C string escaper: the
    encoder's set-up per call cost a write 20,000 instructions, more than the line itself.
    """
    rid = "null" if request_id is None else _string(request_id)
    more = f',"detail":{_LINE.encode(detail)}' if detail else ""
    return (
        f'{{"action":{_string(action)},"actor":{_string(actor)},"target":{_string(target)},'
        f'"result":{_string(result)},"request_id":{rid}{more},"time":{_string(time or utc_now_ms())}}}'
    )


def result_for_status(status: int) -> str:
    if status < 400:
        return OK
    if status in (401, 403):
        return DENIED
    return REFUSED if status < 500 else FAILED


def cli_actor() -> str:
    """Who runs a CLI command: the OS user (the CLI holds the keys itself, so it is an operator)."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def record(
    action: str,
    *,
    actor: str,
    target: str,
    result: str,
    request_id: str | None = None,
    **detail: Detail,
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    line = to_line(action, actor, target, result, request_id, detail)
    if _file is not None:
        _file.append(line)
        return
    handler = direct_handler(log, logging.INFO)
    if handler is not None:
        handler.write("INFO", AUDIT_LOGGER, line)
    else:
        log.info(line)


class _AuditFile:
    """An append-only file of whole lines, shared by every process that opens it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._lock._at_fork_reinit)  # type: ignore[attr-defined]

    def append(self, line: str) -> None:
        try:
            # backslashreplace: a name from a query may hold a lone surrogate (invalid UTF-8 sent
            # by the client); the line must still be written, and the request still answered.
            data = memoryview((line + "\n").encode("utf-8", "backslashreplace"))
            with self._lock:  # a (rare) short write finishes before another thread's line starts
                while data:
                    data = data[os.write(self._fd, data) :]
        except Exception as exc:  # as logging's file handler did: reported, the request not failed
            logging.getLogger("deltadb").error("could not append to the audit log %s: %s", self.path, exc)

    def close(self) -> None:
        os.close(self._fd)


_file: _AuditFile | None = None


def write_to(path: str) -> None:
    """Send the audit lines to an append-only file of their own (and not also to the general log)."""
    global _file
    target = os.path.abspath(path)
    if _file is not None and _file.path == target:
        return  # several Runtimes in one process (tests, tools) share the one file
    previous, _file = _file, _AuditFile(target)
    if previous is not None:
        previous.close()
