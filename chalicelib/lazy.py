"""Thread-safe build-once attributes for the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class once(Generic[T]):
    """Like ``functools.cached_property``, but the first build happens exactly once.

    Concurrent first requests wait for the one build (``cached_property`` no longer
    locks since Python 3.12); later reads are a plain attribute lookup, no lock.
    An exception is not cached: the next read tries again.
    """

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._name = build.__name__
        self._lock = threading.RLock()  # re-entrant: one build may read another once-attribute
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type) -> once[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> once[T] | T:
        if obj is None:
            return self
        values = obj.__dict__
        try:
            return values[self._name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with self._lock:
            if self._name not in values:
                values[self._name] = self._build(obj)
            return values[self._name]  # type: ignore[no-any-return]
