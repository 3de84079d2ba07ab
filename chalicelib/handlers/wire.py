"""How calls and replies of the handler protocol become plain JSON and back.

A call is a frozen dataclass subclassing ``Call[ReplyType]`` with the action name and
the function that serves it given as class keywords; a reply is a dataclass subclassing
``Reply``. Each class is declared once (chalicelib/handlers/protocol.py); its wire form is
its fields, plus ``"action"`` for calls. Decoding checks every field's type, so a
malformed event is refused (400) before a handler sees it, whatever sent it.
"""

from __future__ import annotations

import dataclasses
import typing
from types import NoneType, UnionType
from typing import Any, ClassVar, Generic, Self, TypeVar

from chalicelib.errors import BadRequest

Json = dict[str, Any]
_Check = typing.Callable[[Any], bool]


def _checker(tp: Any) -> _Check:
    """A fast isinstance-style check for the few field types the protocol uses."""
    if tp is Any:
        return lambda _v: True
    origin = typing.get_origin(tp)
    if origin in (UnionType, typing.Union):
        parts = [_checker(a) for a in typing.get_args(tp)]
        return lambda v: any(p(v) for p in parts)
    if tp is NoneType:
        return lambda v: v is None
    if tp is float:
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if tp is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    base = origin or tp
    if base in (list, dict, str, bool):
        return lambda v: isinstance(v, base)
    raise TypeError(f"unsupported field type in the handler protocol: {tp!r}")


class _Codec:
    """Per-class field table, computed once at class creation."""

    __slots__ = ("fields",)

    def __init__(self, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        self.fields: list[tuple[str, _Check, bool]] = [
            (f.name, _checker(hints[f.name]), f.default is dataclasses.MISSING) for f in dataclasses.fields(cls)
        ]

    def decode(self, cls: type[Any], doc: Any) -> Any:
        if not isinstance(doc, dict):
            raise BadRequest("malformed event")
        values = {}
        for name, check, required in self.fields:
            if name in doc:
                value = doc[name]
                if not check(value):
                    raise BadRequest(f"malformed event: field {name!r}")
                values[name] = value
            elif required:
                raise BadRequest(f"malformed event: field {name!r} missing")
        return cls(**values)

    def encode(self, obj: Any) -> Json:
        return {name: getattr(obj, name) for name, _check, _required in self.fields}


def _codec(cls: type) -> _Codec:
    codec: _Codec | None = cls.__dict__.get("_codec")
    if codec is None:  # first use: the dataclass decorator has run by now
        codec = _Codec(cls)
        type.__setattr__(cls, "_codec", codec)
    return codec


class Reply:
    """Base of every handler reply; subclasses are ``@dataclass(frozen=True)``."""

    def to_json(self) -> Json:
        return _codec(type(self)).encode(self)

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        result: Self = _codec(cls).decode(cls, doc)
        return result


R = TypeVar("R", bound=Reply)


class Call(Generic[R]):
    """Base of every handler call: ``@dataclass(frozen=True) class X(Call[Y], action=..., function=...)``.

    The reply type is read from the ``Call[Y]`` base, so it is written once.
    """

    action: ClassVar[str]
    function: ClassVar[str]
    reply_type: ClassVar[type[Reply]]
    registry: ClassVar[dict[str, type[Call[Any]]]] = {}

    def __init_subclass__(cls, *, action: str, function: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if action in Call.registry:
            raise TypeError(f"action {action!r} declared twice")
        cls.action, cls.function = action, function
        (base,) = [b for b in cls.__orig_bases__ if typing.get_origin(b) is Call]  # type: ignore[attr-defined]
        cls.reply_type = typing.get_args(base)[0]
        Call.registry[action] = cls

    def to_json(self) -> Json:
        return {"action": self.action, **_codec(type(self)).encode(self)}

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        result: Self = _codec(cls).decode(cls, doc)
        return result

    def decode_reply(self, doc: Json) -> R:
        decoded: R = self.reply_type.from_json(doc)  # type: ignore[assignment]
        return decoded


def decode_call(doc: Any) -> Call[Any]:
    """The call an event carries; BadRequest when it names no known action or is malformed."""
    action = doc.get("action") if isinstance(doc, dict) else None
    cls = Call.registry.get(action) if isinstance(action, str) else None
    if cls is None:
        raise BadRequest(f"unknown action {action!r}")
    return cls.from_json(doc)
