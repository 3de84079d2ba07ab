"""``deltadb verify [--db DB] [--json]``: decrypt and check every entity, counted per master key version.

``--json`` prints one line ``{"checked", "ok", "failed": [{"db", "key", "error"}],
"key_ids": {"<key version id>": count}}`` — the ids ``key list`` shows and ``key
retire`` takes. A table for people. Exit 1 when any entity failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from chalicelib.walks import count_entities, databases, verify
from local import store
from local.progress import progress


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser.add_argument("--db", help="only this database (default: every database)")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of tables")
    store_flags(parser)


@store.clear_errors
def run(args: argparse.Namespace) -> int:
    handlers = store.handlers(store.settings())
    total = count_entities(handlers, databases(handlers, args.db)) if sys.stderr.isatty() else None
    with progress("verify", total) as advance:
        report = verify(handlers, args.db, advance)
    if args.json:
        print(json.dumps(report.to_json()))
        return 1 if report.failed else 0
    from rich.console import Console  # only for people at a terminal
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(f"checked {report.checked}, ok {report.ok}, failed {len(report.failed)}")
    versions = Table(title="entities per master key version")
    versions.add_column("key version id", no_wrap=True)
    versions.add_column("entities", justify="right")
    for kid, n in sorted(report.key_ids.items()):
        versions.add_row(kid, str(n))
    console.print(versions)
    if report.failed:
        failures = Table(title="failed")
        for heading in ("db", "key", "error"):
            failures.add_column(heading)
        for bad in report.failed:
            failures.add_row(escape(bad["db"]), escape(bad["key"]), escape(bad["error"]))
        console.print(failures)
    return 1 if report.failed else 0
