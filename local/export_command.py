"""``deltadb export [--db DB] > dump``: every entity in CLEAR TEXT, as JSON lines ``{"db", "key", "value"}``.

Plaintext by design (a migration, a backup outside the encryption): whoever holds the
dump holds the data. So it is an admin tool only (it needs the store and its keys),
it says so on stderr every time, and it leaves an audit line. Entities that fail to
decrypt are named on stderr (never written to the dump) and make the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from chalicelib import audit
from chalicelib.walks import count_entities, databases, export
from local import store
from local.progress import progress

WARNING = (
    "deltadb export: WARNING: the dump holds every value in CLEAR TEXT. Keep it like the data itself "
    "(encrypted, access-controlled) and delete it when done."
)


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser.add_argument("--db", help="only this database (default: every database)")
    store_flags(parser)


def line(db: str, key: str, value: str) -> str:
    """One dump line; the value's JSON text is written as stored (compact, so on one line)."""
    if "\n" in value or "\r" in value:  # never from this store; a defence for hand-made values
        value = json.dumps(json.loads(value), separators=(",", ":"))
    return f'{{"db":{json.dumps(db, ensure_ascii=False)},"key":{json.dumps(key, ensure_ascii=False)},"value":{value}}}'


@store.clear_errors
def run(args: argparse.Namespace) -> int:
    handlers = store.handlers(store.settings())
    dbs = databases(handlers, args.db)
    print(WARNING, file=sys.stderr)
    exported = failed = 0
    out = sys.stdout
    actor, target = store.actor(), args.db or "*"
    try:
        with progress("export", count_entities(handlers, dbs) if sys.stderr.isatty() else None) as advance:
            for row in export(handlers, args.db):
                if row.value is None:
                    failed += 1
                    print(f"deltadb export: {row.db}/{row.key}: {row.error} (not exported)", file=sys.stderr)
                else:
                    out.write(line(row.db, row.key, row.value) + "\n")
                    exported += 1
                advance(1)
        out.flush()
    except BaseException:
        audit.record("export", actor=actor, target=target, result=audit.FAILED, exported=exported)
        raise
    audit.record("export", actor=actor, target=target, result=audit.FAILED if failed else audit.OK, exported=exported)
    print(f"deltadb export: {exported} entities exported, {failed} failed", file=sys.stderr)
    return 1 if failed else 0
