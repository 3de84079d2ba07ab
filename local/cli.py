"""``deltadb``: run DeltaDatabase as long-lived processes.

Commands (local/commands.py): ``serve`` (all-in-one server), ``up`` (main worker plus
``--workers`` processing workers, supervised), ``worker`` (one processing worker).
Their flags are made from the settings tables (local/flags.py) and become DELTADB_* /
S3_* environment variables, the one config channel, read by chalicelib.config.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from functools import partial
from importlib import metadata
from pathlib import Path

from local import (
    apikey_command,
    commands,
    export_command,
    import_command,
    key_command,
    rewrap_command,
    shred_command,
    verify_command,
)
from local.flags import add_flags, apply, migrate_deprecated_env

COMMANDS = {
    "serve": (commands.serve, "the all-in-one server (handlers in-process)"),
    "up": (commands.up, "the main worker plus N processing worker processes, supervised"),
    "worker": (commands.worker, "one processing worker (Lambda Invoke API); needs DELTADB_WORKER_SECRET"),
}


def version() -> str:
    """The installed distribution's version; in a source tree without it, pyproject's."""
    try:
        return metadata.version("deltadatabase")
    except metadata.PackageNotFoundError:
        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
            return str(tomllib.load(f)["project"]["version"])


# Admin commands act on a store (the storage and key flags of a server) and take arguments.
ADMIN_COMMANDS = {
    "apikey": (apikey_command.run, apikey_command.add_arguments, "API keys: create, list, delete"),
    "key": (key_command.run, key_command.add_arguments, "master key versions: list, rotate, retire"),
    "shred": (shred_command.run, shred_command.add_arguments, "destroy a database for good (crypto-shredding)"),
    "rewrap": (rewrap_command.run, rewrap_command.add_arguments, "re-wrap every entity under the current key version"),
    "verify": (verify_command.run, verify_command.add_arguments, "decrypt and check every entity"),
    "export": (export_command.run, export_command.add_arguments, "every entity in CLEAR TEXT, as JSON lines"),
    "import": (import_command.run, import_command.add_arguments, "entities from JSON lines (deltadb export)"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deltadb", description="DeltaDatabase: encrypted JSON document store")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (_run, text) in COMMANDS.items():
        add_flags(sub.add_parser(name, help=text, description=text), name)
    for name, (_admin, arguments, text) in ADMIN_COMMANDS.items():
        arguments(sub.add_parser(name, help=text, description=text), partial(add_flags, command=name))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    migrate_deprecated_env()  # before the flags: a flag wins over any variable
    apply(args)
    if args.command in ADMIN_COMMANDS:
        return ADMIN_COMMANDS[args.command][0](args)
    run, _text = COMMANDS[args.command]
    return run()


if __name__ == "__main__":
    sys.exit(main())
