"""``deltadb shred DB --yes``: crypto-shred a database (see docs/operations.md#shredding-a-database).

Same storage and key flags as ``serve``. A progress bar on a terminal while the objects
are removed; ``--json`` prints one object. Exit 0 on success (warnings, if any, on
stderr and in the JSON), 1 when refused (unknown database) or failing, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from chalicelib import audit
from local.key_admin import lifecycle, run_guarded


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser.add_argument("db", help="the database to destroy for good")
    parser.add_argument("--yes", action="store_true", help="required: every entity of DB becomes unrecoverable")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    store_flags(parser)


def run(args: argparse.Namespace) -> int:
    if not args.yes:
        print(
            f"deltadb: shred makes every entity of {args.db!r} unrecoverable, backups included; add --yes",
            file=sys.stderr,
        )
        return 2
    return run_guarded("database.shred", args.db, lambda: _shred(args))


def _shred(args: argparse.Namespace) -> int:
    keys = lifecycle()
    if args.json or not sys.stderr.isatty():
        done = keys.shred(args.db)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        def update(n: int, total: int | None) -> None:
            bar.update(task, completed=n, total=total)

        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=True, console=None,
        ) as bar:  # fmt: skip
            task = bar.add_task(f"removing the objects of {args.db}", total=None)
            done = keys.shred(args.db, update)
    audit.record(
        "database.shred", actor=audit.cli_actor(), target=args.db, result=audit.OK,
        objects=done.objects_removed, warnings=len(done.warnings), new_master=done.new_master,
        destroyed=",".join(done.destroyed) or None,
    )  # fmt: skip
    for warning in done.warnings:
        print(f"deltadb: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(
            {"db": done.db, "objects_removed": done.objects_removed, "new_master": done.new_master,
             "destroyed": done.destroyed, "warnings": done.warnings}
        ))  # fmt: skip
    else:
        print(f"shredded {done.db}: its database key is destroyed; removed {done.objects_removed} objects")
        if done.new_master:
            print(f"new master key version {done.new_master}; destroyed: {', '.join(done.destroyed) or 'none'}")
    return 0
