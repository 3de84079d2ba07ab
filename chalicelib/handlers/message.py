"""``@message``: frozen value classes whose code is made when first used, not at import.

The handler protocol declares ~45 classes, all imported by ``import app`` (a Lambda cold
start). ``@dataclass(frozen=True)`` compiles six methods per class at import, each with
its own ``exec`` (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``): about 35 ms of that import on this repository's VM, for classes most
processes never instantiate. ``@message`` keeps dataclasses for what it declares (the
fields: ``dataclasses.fields``, ``asdict`` and ``replace`` work, and type checkers read
the class as a frozen dataclass) and takes the methods from one base class, ``Message``:

- ``__init__`` is compiled for the class on its first instance: the signature a
  dataclass's has (positional in field order, keywords, defaults, ``default_factory``;
  Python's own ``TypeError`` for a missing, unexpected or repeated argument), setting
  the fields in field order straight into the instance ``__dict__``;
- frozen: assigning or deleting an attribute raises ``dataclasses.FrozenInstanceError``;
- ``==`` between instances of the same class compares fields, ``hash`` hashes them, and
  ``repr`` is ``Name(field=value, ...)``.

tests/unit/test_message.py holds each of these equal to a frozen dataclass's.
"""

from __future__ import annotations

import dataclasses
import inspect  # (dataclasses imports it: no cost)
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, dataclass_transform

T = TypeVar("T")
_FACTORY: Any = object()  # the default of a default_factory field: "not given"


@dataclass_transform(frozen_default=True)
def message(cls: type[T]) -> type[T]:
    """Declare ``cls`` (a ``Message`` subclass) as a frozen dataclass whose methods come from ``Message``.

    The field options ``Message`` does not honour are refused here, at import, rather than
    ignored: ``kw_only``, ``init=False``, ``repr=False``, ``compare=False``, ``hash=...``,
    a field without a default after one with, ``__post_init__`` and a class's own ``__init__``.
    """
    if not issubclass(cls, Message):
        raise TypeError(f"@message class {cls.__qualname__} must subclass Message")
    if "__init__" in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"@message class {cls.__qualname__}: no __init__ or __post_init__ of its own")
    if cls.__doc__ is None:  # like dataclass's (its field names), without its inspect.signature (~0.2 ms a class)
        cls.__doc__ = f"{cls.__name__}({', '.join(inspect.get_annotations(cls))})"
    done = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    _check_fields(done)
    # Each class starts with the compiling __init__ of its own, so that a subclass never
    # inherits the compiled __init__ of its base (which sets the base's fields).
    setattr(done, "__init__", Message.__init__)  # noqa: B010 (mypy: no assignment to a method)
    return done


def _check_fields(cls: type) -> None:
    defaulted = False
    for f in dataclasses.fields(cls):
        plain = f.init and f.repr and f.compare and f.hash is None and not f.kw_only
        if not plain:
            raise TypeError(f"@message class {cls.__qualname__}, field {f.name!r}: only plain fields and defaults")
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if defaulted and not has_default:
            raise TypeError(f"@message class {cls.__qualname__}: field {f.name!r} without a default follows one with")
        defaulted = defaulted or has_default


def _compiled_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` a dataclass would generate for ``cls``, writing the instance ``__dict__`` directly."""
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    params, lines = ["__message_self__"], ["__message_fields__ = __message_self__.__dict__"]
    for f in dataclasses.fields(cls):  # (all init fields: _check_fields)
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
            value = f.name
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            value = f"_factory_{f.name}() if {f.name} is _FACTORY else {f.name}"
        else:
            params.append(f.name)
            value = f.name
        lines.append(f"__message_fields__[{f.name!r}] = {value}")
    source = f"def __init__({', '.join(params)}) -> None:\n" + "".join(f"    {line}\n" for line in lines)
    exec(source, namespace)  # noqa: S102 (our own field names, as dataclasses itself does)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


class Message:
    """Base of ``@message`` classes: fields live in the instance ``__dict__``, set once by ``__init__``."""

    __slots__ = ()

    if not TYPE_CHECKING:  # type checkers take __init__ and frozenness from @message (dataclass_transform)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # Only ever the first instance of a class: its own __init__ replaces this one.
            # (Two threads may both compile it; each result is the same function.)
            cls = type(self)
            init = _compiled_init(cls)
            setattr(cls, "__init__", init)  # noqa: B010
            init(self, *args, **kwargs)

        def __setattr__(self, name: str, value: Any) -> None:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name: str) -> None:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.__dict__ == other.__dict__
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{self.__class__.__qualname__}({fields})"
