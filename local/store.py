"""What the admin commands act on: a server's store and keys, reached through the handler protocol.

``deltadb rewrap|verify|export|import`` take the storage and key flags of ``serve`` and
call the processing handlers in-process (whatever ``DELTADB_INVOKER`` says), built by
the composition root. Unlike a server's first start they create nothing: a data folder
or keyring that is not there is a configuration error, so a mistyped flag changes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from functools import wraps

from chalicelib import audit, provisioning
from chalicelib.bootstrap import Runtime
from chalicelib.builders import build_keyring
from chalicelib.config import ConfigError, Settings
from chalicelib.errors import BadRequest, DeltaError
from chalicelib.handler_client import HandlerClient
from chalicelib.logs import setup_logging

Command = Callable[[argparse.Namespace], int]


def settings() -> Settings:
    """The command's settings (flags are in the environment by now); audit lines go where they say."""
    s = dataclasses.replace(Settings.from_env(), invoker="inprocess", role="all")
    setup_logging(s)  # audit lines: --audit-log, else stderr with the other logs
    return s


def handlers(s: Settings) -> HandlerClient:
    """The processing handlers on the configured store, with its existing keyring."""
    if s.backend == "fs" and not s.data_dir.is_dir():
        raise ConfigError(f"no data folder at {s.data_dir}: give the server's --data-dir")
    keyring = build_keyring(s, existing_secrets(s))
    return HandlerClient(Runtime(s, keyring=keyring).invoker)


def existing_secrets(s: Settings) -> provisioning.Secrets:
    """The keyring the server made; never key material made here (ConfigError when there is none)."""
    key_file = None
    if s.kms_key_id is None and s.master_key is None:
        key_file = s.key_file or s.resolved_secrets_dir / "keyring.json"
        if not key_file.is_file():
            raise ConfigError(f"no keyring at {key_file}: give the server's --secrets-dir or --key-file")
    return provisioning.Secrets(None, b"", key_file, None)


def actor() -> str:
    return audit.cli_actor()


def clear_errors(command: Command) -> Command:
    """One clear sentence on stderr and an exit status instead of a traceback."""

    @wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ConfigError as exc:
            print(f"deltadb: configuration error: {exc}", file=sys.stderr)
            return 2
        except BadRequest as exc:
            print(f"deltadb: {exc.message}", file=sys.stderr)
            return 2
        except DeltaError as exc:
            print(f"deltadb: {exc.message}", file=sys.stderr)
            return 1
        except (ValueError, OSError) as exc:  # e.g. an unreadable keyring file
            print(f"deltadb: {exc}", file=sys.stderr)
            return 1

    return run
