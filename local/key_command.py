"""``deltadb key list|rotate|retire``: master key versions from the command line.

Same storage and key flags as ``serve``; built through the composition root
(local/key_admin.py). Tables for people, ``--json`` for scripts; exit 0 on success, 1
when refused (unknown or current version, a version still in use, KMS or storage
failing), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chalicelib import audit
from local.key_admin import lifecycle, run_guarded


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="master key versions: which is current, when made")
    listing.add_argument("--count", action="store_true", help="also count the database keys and entities each wraps")
    rotate = sub.add_parser("rotate", help="make a new master key version current; database keys move under it")
    rotate.add_argument(
        "--kms-new-key-id", help="KMS: adopt this existing key (id, ARN, alias) instead of creating one"
    )
    retire = sub.add_parser("retire", help="destroy a master key version nothing needs any more")
    retire.add_argument("id")
    for action in (listing, rotate, retire):
        action.add_argument("--json", action="store_true", help="one JSON object instead of text")
        store_flags(action)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return run_guarded("key.list", "", lambda: _list(args))
    if args.action == "rotate":
        return run_guarded("key.rotate", "", lambda: _rotate(args))
    return run_guarded("key.retire", args.id, lambda: _retire(args))


def _list(args: argparse.Namespace) -> int:
    keys = lifecycle()
    versions = keys.versions.list()
    usage = keys.usage() if args.count else None
    rows: list[dict[str, Any]] = []
    for v in versions:
        row: dict[str, Any] = {"id": v.id, "state": v.state, "current": v.current, "created_at": v.created_at}
        if v.destroyed_at:
            row["destroyed_at"] = v.destroyed_at
        if usage is not None:
            row |= {"database_keys": usage.records[v.id], "entities": usage.entities[v.id]}
        rows.append(row)
    out: dict[str, Any] = {"current": next((v.id for v in versions if v.current), None), "versions": rows}
    if usage is not None:
        out["unreadable"] = usage.unreadable
    if args.json:
        print(json.dumps(out))
        return 0
    from rich.console import Console  # only for people at a terminal
    from rich.table import Table

    table = Table()
    table.add_column("version", no_wrap=True)
    for heading in ("state", "current", "created"):
        table.add_column(heading)
    if usage is not None:
        table.add_column("database keys", justify="right")
        table.add_column("entities", justify="right")
    for row in rows:
        cells = [row["id"], row["state"], "yes" if row["current"] else "", row["created_at"] or "-"]
        if usage is not None:
            cells += [str(row["database_keys"]), str(row["entities"])]
        table.add_row(*cells)
    Console(width=None if sys.stdout.isatty() else 250).print(table)
    if usage is not None and usage.unreadable:
        print(f"{usage.unreadable} entities could not be attributed (unreadable: see `deltadb verify`)")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    done = lifecycle().rotate(args.kms_new_key_id)
    audit.record("key.rotate", actor=audit.cli_actor(), target=done.current, result=audit.OK, previous=done.previous)
    if args.json:
        print(json.dumps({"current": done.current, "previous": done.previous, "database_keys": done.records_rewrapped}))
    else:
        print(f"rotated: the current master key version is {done.current} (was {done.previous})")
        print(f"moved {done.records_rewrapped} database keys under it; format-1 entities move with `deltadb rewrap`")
    return 0


def _retire(args: argparse.Namespace) -> int:
    what = lifecycle().retire(args.id)
    audit.record("key.retire", actor=audit.cli_actor(), target=args.id, result=audit.OK)
    if args.json:
        print(json.dumps({"retired": args.id, "done": what}))
    else:
        print(f"retired {args.id}: {what}")
    return 0
