"""How calls and replies of the handler protocol become plain JSON and back.

A call is a ``@message`` class (a frozen dataclass, chalicelib/handlers/message.py)
subclassing ``Call[ReplyType]`` with the action name and the function that serves it
given as class keywords; a reply is a ``@message`` class subclassing ``Reply``. Each
class is declared once (chalicelib/handlers/protocol.py); its wire form is its fields,
plus ``"action"`` for calls. Decoding checks every field's type, so a malformed event is
refused (400) before a handler sees it, whatever sent it.
"""

from __future__ import annotations

import dataclasses
import typing
from types import NoneType, UnionType
from typing import Any, ClassVar, Generic, Self, TypeVar

from chalicelib.errors import BadRequest
from chalicelib.handlers.message import Message

Json = dict[str, Any]
_REQUIRED: Any = object()


def _allowed(tp: Any) -> tuple[tuple[type, ...], bool]:
    """(types isinstance must accept, whether None is allowed) for the few field types the protocol uses."""
    origin = typing.get_origin(tp)
    if origin in (UnionType, typing.Union):
        types: tuple[type, ...] = ()
        nullable = False
        for arg in typing.get_args(tp):
            if arg is NoneType:
                nullable = True
            else:
                types += _allowed(arg)[0]
        return types, nullable
    if tp is Any:
        return (object,), True
    if tp is float:
        return (int, float), False
    base = origin or tp
    if base in (list, dict, str, bool, int):
        return (base,), False
    raise TypeError(f"unsupported field type in the handler protocol: {tp!r}")


class _Field:
    __slots__ = ("default", "factory", "name", "no_bool", "nullable", "types")

    def __init__(self, f: dataclasses.Field[Any], tp: Any) -> None:
        self.name = f.name
        self.types, self.nullable = _allowed(tp)
        self.no_bool = bool not in self.types and any(t in (int, float) for t in self.types)  # True is an int
        self.default = _REQUIRED if f.default is dataclasses.MISSING else f.default
        self.factory = None if f.default_factory is dataclasses.MISSING else f.default_factory


class _Codec:
    """A dataclass's field table, built on its first use; decoding skips ``__init__`` (the checks are done)."""

    __slots__ = ("fields",)

    def __init__(self, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        self.fields = [_Field(f, hints[f.name]) for f in dataclasses.fields(cls)]

    def decode(self, cls: type[Any], doc: Any) -> Any:
        if type(doc) is not dict:
            raise BadRequest("malformed event")
        obj = object.__new__(cls)
        values = obj.__dict__  # frozen dataclasses block setattr, not their __dict__
        for f in self.fields:
            value = doc.get(f.name, _REQUIRED)
            if value is _REQUIRED:
                if f.factory is not None:
                    value = f.factory()
                elif f.default is _REQUIRED:
                    raise BadRequest(f"malformed event: field {f.name!r} missing")
                else:
                    value = f.default
            elif not (
                (isinstance(value, f.types) and not (f.no_bool and type(value) is bool))
                or (value is None and f.nullable)
            ):
                raise BadRequest(f"malformed event: field {f.name!r}")
            values[f.name] = value
        return obj


_CODECS: dict[type, _Codec] = {}


def _codec(cls: type) -> _Codec:
    codec = _CODECS.get(cls)
    if codec is None:  # first use: the dataclass decorator has run by now
        codec = _CODECS[cls] = _Codec(cls)
    return codec


class Reply(Message):
    """Base of every handler reply; subclasses are ``@message`` classes."""

    def to_json(self) -> Json:
        return dict(self.__dict__)  # a dataclass's fields, nothing else

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        result: Self = _codec(cls).decode(cls, doc)
        return result


R = TypeVar("R", bound=Reply)


class Call(Message, Generic[R]):
    """Base of every handler call: ``@message class X(Call[Y], action=..., function=...)``.

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
        return {"action": self.action, **self.__dict__}

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
