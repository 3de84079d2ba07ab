"""``deltadb apikey create|list|delete``: API keys from the command line.

Same storage and key flags as ``serve`` (the settings tables), and the same code path
as the API: the calls of the handler protocol, answered in-process by the meta handler
(which needs storage only, no keyring). Tables for people, ``--json`` for scripts; exit
0 on success, 1 when the store refuses (unknown id, unreachable storage), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chalicelib import audit
from chalicelib.bootstrap import Runtime
from chalicelib.errors import DeltaError, NotFound
from chalicelib.handler_client import HandlerClient
from chalicelib.services.keys import KeyService
from local import store


def add_arguments(parser: argparse.ArgumentParser, store_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """The actions, each with the store's flags (so they may come after the action, as users type them)."""
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a key; its secret is printed once")
    create.add_argument("name")
    create.add_argument("--permissions", required=True, help="comma-separated: read, write, admin")
    create.add_argument("--expires-in", help="a duration such as 30m, 24h, 7d (default: never)")
    create.add_argument("--json", action="store_true", help="one JSON object instead of text")
    listing = sub.add_parser("list", help="the keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    delete = sub.add_parser(
        "delete",
        help="delete a key: it and its sessions stop working at once (within DELTADB_APIKEY_REVALIDATE_SECONDS if set)",
    )
    delete.add_argument("id")
    for action in (create, listing, delete):
        store_flags(action)


def _keys() -> KeyService:
    """The API's key service, its calls answered in-process whatever DELTADB_INVOKER says."""
    return KeyService(HandlerClient(Runtime(store.settings()).invoker))


@store.clear_errors
def run(args: argparse.Namespace) -> int:
    keys = _keys()
    if args.action == "create":
        return _create(keys, args)
    if args.action == "list":
        return _list(keys, args)
    try:
        keys.delete(args.id)
    except DeltaError as exc:
        audit.record("apikey.delete", actor=store.actor(), target=str(args.id)[:64], result=audit.REFUSED)
        if exc.code == "not_found":
            raise NotFound(f"no API key with id {args.id!r}") from None
        raise
    audit.record("apikey.delete", actor=store.actor(), target=args.id, result=audit.OK)
    print(f"deleted API key {args.id}")
    return 0


def _create(keys: KeyService, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, "permissions": [p.strip() for p in args.permissions.split(",")]}
    if args.expires_in:
        body["expires_in"] = args.expires_in
    made = keys.create(body)  # exactly what POST /api/keys answers
    audit.record("apikey.create", actor=store.actor(), target=made["id"], result=audit.OK)
    if args.json:
        print(json.dumps(made))
    else:
        print(f"created API key {made['id']} ({made['name']}: {', '.join(made['permissions'])})")
        print(f"secret (shown once; only its hash is kept): {made['secret']}")
    return 0


def _list(keys_: KeyService, args: argparse.Namespace) -> int:
    keys = keys_.list()
    if args.json:
        print(json.dumps(keys))
        return 0
    from rich.console import Console  # only for people at a terminal
    from rich.table import Table

    table = Table()
    table.add_column("id", no_wrap=True, min_width=16)
    for heading in ("name", "permissions", "created", "expires", "enabled"):
        table.add_column(heading)
    for k in keys:
        table.add_row(
            k["id"], k["name"], ",".join(k["permissions"]), k["created_at"], k["expires_at"] or "never",
            "yes" if k["enabled"] else "no",
        )  # fmt: skip
    # Not a terminal (a pipe, a file): no width to fit, so nothing is cut short.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    return 0
