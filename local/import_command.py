"""``deltadb import [--overwrite] < dump``: entities from JSON lines ``{"db", "key", "value"}`` (``deltadb export``).

Every line is checked first, like the API checks a PUT (strict JSON, names, the
database's schema): one bad line and nothing is written, each bad line named with its
number. Then each entity is created through the same handler call as the API's PUT,
create-only unless ``--overwrite``: an existing key is refused and reported, never
replaced silently. Progress on stderr; one JSON line ``{"imported": n, "refused": n}``
on stdout. Exit 1 when a line was refused, 2 when the dump is malformed.

The dump is held in memory while it is checked (it is plaintext: no temporary file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import BinaryIO

from chalicelib import audit, jsonbody, names
from chalicelib.errors import BadRequest, PreconditionFailed
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import PutEntity
from chalicelib.records import HandlerRecords
from chalicelib.schemas import SchemaCache
from local import store
from local.progress import progress

SHOWN_ERRORS = 20  # malformed lines listed; the rest are counted
Row = tuple[int, str, str, str]  # line number, db, key, value JSON text


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace entities that exist (default: refuse)")
    store_flags(parser)


def checked(lines: BinaryIO, schemas: SchemaCache) -> tuple[list[Row], list[str]]:
    """(the rows, the problems as "line N: ..."): every line parsed and validated, nothing written."""
    rows: list[Row] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            doc = jsonbody.parse(raw)
            if not isinstance(doc, dict) or set(doc) != {"db", "key", "value"}:
                raise BadRequest('expected a JSON object {"db", "key", "value"}')
            db = names.validate(doc["db"], "database name")
            key = names.validate(doc["key"], "entity key")
            schemas.validate(db, [(key, doc["value"])])
            rows.append((number, db, key, jsonbody.dumps(doc["value"])))
        except BadRequest as exc:
            problems.append(f"line {number}: {exc.message}")
    return rows, problems


def write(handlers: HandlerClient, rows: list[Row], overwrite: bool) -> tuple[int, int]:
    """(imported, refused); a refused line is named on stderr."""
    imported = refused = 0
    with progress("import", len(rows)) as advance:
        for number, db, key, value in rows:
            try:
                handlers.call(PutEntity(db, key, value, create_only=not overwrite))
                imported += 1
            except PreconditionFailed:
                refused += 1
                print(
                    f"deltadb import: line {number}: {db}/{key} exists; not overwritten (--overwrite)", file=sys.stderr
                )
            advance(1)
    return imported, refused


@store.clear_errors
def run(args: argparse.Namespace) -> int:
    handlers = store.handlers(store.settings())
    rows, problems = checked(sys.stdin.buffer, SchemaCache(HandlerRecords(handlers), 0.0))
    actor = store.actor()
    if problems:
        for problem in problems[:SHOWN_ERRORS]:
            print(f"deltadb import: {problem}", file=sys.stderr)
        more = f" ({len(problems) - SHOWN_ERRORS} more not shown)" if len(problems) > SHOWN_ERRORS else ""
        print(f"deltadb import: {len(problems)} bad lines{more}; nothing was imported", file=sys.stderr)
        audit.record("import", actor=actor, target="*", result=audit.REFUSED, bad_lines=len(problems))
        return 2
    try:
        imported, refused = write(handlers, rows, args.overwrite)
    except BaseException:
        audit.record("import", actor=actor, target="*", result=audit.FAILED)
        raise
    result = audit.REFUSED if refused else audit.OK
    audit.record("import", actor=actor, target="*", result=result, imported=imported, refused=refused)
    print(json.dumps({"imported": imported, "refused": refused}))
    return 1 if refused else 0
