"""The processing side's entry: plain-JSON event in, plain-JSON result out.

A handler class lists what it serves with ``@implements(SomeCall)``; ``Handler.__call__``
decodes the event into that call (400 when malformed), runs it, and encodes the reply.
Errors come back as ``{"error": {"code", "message"}}`` results (chalicelib.errors), never
as raised exceptions, so a Lambda invoke never reports a FunctionError with a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from chalicelib.crypto.envelope import DatabaseGone, EnvelopeError
from chalicelib.crypto.keyring import KeyServiceUnavailable
from chalicelib.errors import (
    BadRequest,
    DeltaError,
    Gone,
    IntegrityError,
    NotFound,
    PreconditionFailed,
    Unavailable,
    to_result,
)
from chalicelib.handlers.wire import Call, Json, Reply, decode_call
from chalicelib.storage.base import ObjectNotFound, StorageUnavailable, VersionMismatch

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Reply])


def implements(call: type[Call[Any]]) -> Callable[[F], F]:
    """Mark a handler method as the implementation of ``call``."""

    def mark(method: F) -> F:
        method._implements = call  # type: ignore[attr-defined]
        return method

    return mark


class Handler:
    """Base of the processing functions' handlers; ``function`` names the one it is."""

    function: ClassVar[str]
    _methods: ClassVar[dict[str, str]]  # action -> method name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._methods = {}
        for name, member in vars(cls).items():
            call = getattr(member, "_implements", None)
            if call is None:
                continue
            if call.function != cls.function:
                raise TypeError(f"{cls.__name__}.{name}: {call.action} belongs to {call.function}")
            cls._methods[call.action] = name

    @classmethod
    def actions(cls) -> frozenset[str]:
        return frozenset(cls._methods)

    def __call__(self, event: Json) -> Json:
        try:
            call = decode_call(event)
            method = self._methods.get(call.action)
            if method is None:
                raise BadRequest(f"{call.action} is not served by {self.function}")
            return self.after(call, self._run(getattr(self, method), call))
        except DeltaError as exc:
            return to_result(exc)

    def after(self, call: Call[Any], result: Json) -> Json:
        """Hook run with every result (errors included); returns the result to send."""
        return result

    @staticmethod
    def _run(method: Callable[[Any], Reply], call: Call[Any]) -> Json:
        try:
            return method(call).to_json()
        except DeltaError as exc:
            return to_result(exc)
        except ObjectNotFound:
            return to_result(NotFound("not found"))
        except VersionMismatch:
            return to_result(PreconditionFailed("precondition failed: the object changed"))
        except DatabaseGone as exc:  # shredded between the handler's check and the envelope's
            return to_result(Gone(str(exc)))
        except EnvelopeError as exc:
            log.error("integrity failure in %s: %s", call.action, exc)
            return to_result(IntegrityError("stored entity failed integrity verification"))
        except (OSError, StorageUnavailable) as exc:
            log.error("storage failure in %s: %s", call.action, exc)
            return to_result(Unavailable("storage unavailable"))
        except KeyServiceUnavailable as exc:
            log.error("key service failure in %s: %s", call.action, exc)
            return to_result(Unavailable("key service unavailable"))
        except (KeyError, TypeError):  # a well-typed call with bad contents (e.g. a record without "id")
            return to_result(BadRequest("malformed event"))
