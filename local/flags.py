"""``deltadb`` flags, made from the settings tables, and flags -> environment.

Every flag is a declared setting (chalicelib/config.py ``Settings``,
local/server_settings.py ``ServerSettings``) with its help text naming the variable.
A flag given on the command line is written to that variable: the environment is the
one config channel, read by ``Settings.from_env`` here and in every server process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import MutableMapping

from chalicelib.config import Settings
from chalicelib.settings_table import SERVER_COMMANDS, Spec, boolean, specs
from local.server_settings import ServerSettings

TABLES = (ServerSettings, Settings)


def declared(tables: tuple[type, ...] = TABLES) -> list[tuple[str, Spec]]:
    """Every declared setting of the given tables (default: the app's and the server's)."""
    return [item for table in tables for item in specs(table)]


def _deprecated_dest(name: str) -> str:
    return f"deprecated_{name}"


# Admin commands: the flags every server command has (storage, keys), no more.
STORE_COMMANDS = ("apikey", "key", "shred", "rewrap", "verify", "export", "import")


def _takes(spec: Spec, command: str) -> bool:
    if command in STORE_COMMANDS:
        return set(SERVER_COMMANDS) <= set(spec.commands)
    return command in spec.commands


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of ``command``: one per setting that declares it for that command."""
    tables = (Settings,) if command in STORE_COMMANDS else TABLES  # no HTTP-server tuning for admin commands
    for name, spec in declared(tables):
        if not _takes(spec, command) or spec.flag is None:
            continue
        kw: dict[str, object] = {"dest": name, "help": spec.describe(), "metavar": spec.flag[2:].upper()}
        if spec.parse is boolean:
            kw |= {"nargs": "?", "const": "true", "metavar": "true|false"}
        elif spec.choices:
            kw |= {"type": spec.parse, "choices": (*spec.choices, *spec.hidden_choices)}
            kw["metavar"] = "{" + ",".join(spec.choices) + "}"
        parser.add_argument(spec.flag, *spec.aliases.get(command, ()), **kw)  # type: ignore[arg-type]
        if old := spec.deprecated_flags.get(command):
            parser.add_argument(old, dest=_deprecated_dest(name), help=argparse.SUPPRESS)


def apply(args: argparse.Namespace, env: MutableMapping[str, str] | None = None) -> None:
    """Write the flags given on the command line to their variables (flags win over env)."""
    env = os.environ if env is None else env
    for name, spec in declared():
        value = getattr(args, name, None)
        if value is None and (value := getattr(args, _deprecated_dest(name), None)) is not None:
            old = spec.deprecated_flags[args.command]
            print(f"deltadb: {args.command} {old} is deprecated; use {spec.flag}", file=sys.stderr)
        if value is not None:
            env[spec.name] = str(value)


def migrate_deprecated_env(env: MutableMapping[str, str] | None = None) -> None:
    """Move deprecated variable names to the current ones, with a warning on stderr.

    Done once, in the command's process, so server processes never see the old names
    (and do not warn once per process).
    """
    env = os.environ if env is None else env
    for _name, spec in declared():
        for var in spec.env:
            if var.deprecated and env.get(var.name):
                old = env.pop(var.name)
                note = f" (ignored: {spec.name} is set)" if env.get(spec.name) else ""
                print(f"deltadb: {var.name} is deprecated{note}; use {spec.name}", file=sys.stderr)
                if not env.get(spec.name):
                    env[spec.name] = old
