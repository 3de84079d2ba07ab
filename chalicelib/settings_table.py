"""The machinery of a settings table: ``setting()`` declares a setting as a dataclass field.

A declaration carries the environment variable(s), the parser, the default, the help
text, the ``deltadb`` flag and the commands that take it, and the setting's own limits
(choices, minimum). From it come ``load()`` (environment -> checked instance) and the
CLI's flags (local/flags.py). The tables themselves: ``chalicelib.config.Settings``
(the app) and ``local.server_settings.ServerSettings`` (the HTTP server).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
SPEC = "deltadb.setting"  # the metadata key of a declared setting
SERVER_COMMANDS = ("serve", "up", "worker")  # every command that starts a server
API_COMMANDS = ("serve", "up")  # the commands that serve the API


class ConfigError(Exception):
    """Configuration is invalid; the message says which setting and why."""


# -- parsers: the text of an environment variable -> the value ---------------------------
def boolean(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def lower(value: str) -> str:
    return value.strip().lower()


def upper(value: str) -> str:
    return value.strip().upper()


def csv(value: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip())


def pairs(value: str, what: str) -> tuple[tuple[str, str], ...]:
    """``a=x,b=y`` -> (("a", "x"), ("b", "y"))."""
    out = []
    for item in csv(value):
        name, sep, val = item.partition("=")
        if not sep or not name.strip() or not val.strip():
            raise ConfigError(f"{what}: expected name=value, got {item!r}")
        out.append((name.strip(), val.strip()))
    return tuple(out)


# -- the declaration -------------------------------------------------------------------
@dataclass(frozen=True)
class Env:
    """One environment variable of a setting; later ones are read when earlier ones are unset."""

    name: str
    parse: Callable[[str], Any] | None = None  # None: the setting's parser
    deprecated: bool = False  # still read; the CLI warns and moves it to the setting's first name


@dataclass(frozen=True)
class Spec:
    env: tuple[Env, ...]
    parse: Callable[[str], Any]
    help: str
    shown_default: str | None  # the default as the help text shows it; None: not shown
    flag: str | None = None
    commands: tuple[str, ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # command -> more flags
    deprecated_flags: Mapping[str, str] = field(default_factory=dict)  # command -> flag (warned about)
    choices: tuple[str, ...] = ()  # shown and accepted
    hidden_choices: tuple[str, ...] = ()  # accepted too
    minimum: float | None = None
    minimum_text: str | None = None  # "at least <this>" instead of ">= <minimum>"

    @property
    def name(self) -> str:
        """The setting's environment variable (the first, when there are several)."""
        return self.env[0].name

    def describe(self) -> str:
        """Help text: what it is, its variable and its default."""
        default = f", default {self.shown_default}" if self.shown_default else ""
        return f"{self.help} (env {self.name}{default})"

    def problem(self, value: Any) -> str | None:
        if self.choices and value not in (*self.choices, *self.hidden_choices):
            *first, last = self.choices
            return f"{self.name} must be {', '.join(first)} or {last}"
        if isinstance(value, float) and not math.isfinite(value):  # "nan" and "inf" parse as floats
            return f"{self.name} must be a finite number"
        if self.minimum is not None and value is not None and value < self.minimum:
            limit = f"at least {self.minimum_text}" if self.minimum_text else f">= {self.minimum:g}"
            return f"{self.name} must be {limit}"
        return None


def setting(
    default: T,
    *,
    env: str | Env | tuple[str | Env, ...],
    help: str,
    parse: Callable[[str], Any] = str,
    shown: str | None = None,
    secret: bool = False,
    flag: str | None = None,
    commands: tuple[str, ...] = SERVER_COMMANDS,
    aliases: Mapping[str, tuple[str, ...]] | None = None,
    deprecated_flags: Mapping[str, str] | None = None,
    choices: tuple[str, ...] = (),
    hidden_choices: tuple[str, ...] = (),
    minimum: float | None = None,
    minimum_text: str | None = None,
) -> T:
    """A dataclass field carrying the declaration of one setting (see ``Spec``).

    ``shown``: the default as help and docs show it (default: ``str(default)``);
    ``secret``: kept out of ``repr``; ``commands``: the ``deltadb`` commands that take
    ``flag``.
    """
    names = env if isinstance(env, tuple) else (env,)
    spec = Spec(
        env=tuple(e if isinstance(e, Env) else Env(e) for e in names),
        parse=parse,
        help=help,
        shown_default=shown if shown is not None else (None if default is None else str(default)),
        flag=flag,
        commands=commands if flag else (),
        aliases=aliases or {},
        deprecated_flags=deprecated_flags or {},
        choices=choices,
        hidden_choices=hidden_choices,
        minimum=minimum,
        minimum_text=minimum_text,
    )
    return field(default=default, repr=not secret, metadata={SPEC: spec})


def specs(cls: type) -> list[tuple[str, Spec]]:
    """(field name, declaration) of every declared setting of a settings dataclass."""
    return [(f.name, f.metadata[SPEC]) for f in dataclasses.fields(cls) if SPEC in f.metadata]


def load(cls: type[T], env: Mapping[str, str], **given: Any) -> T:
    """``cls`` from ``env`` (an empty variable counts as unset), each setting's limits checked.

    ``given``: values of fields that are not read from the environment.
    """
    values = dict(given)
    for name, spec in specs(cls):
        for var in spec.env:
            raw = env.get(var.name)
            if not raw:
                continue
            try:
                values[name] = (var.parse or spec.parse)(raw)
            except ValueError as exc:
                raise ConfigError(str(exc) if var.name in str(exc) else f"{var.name}: {exc}") from None
            break
    made = cls(**values)
    for name, spec in specs(cls):
        if problem := spec.problem(getattr(made, name)):
            raise ConfigError(problem)
    return made
