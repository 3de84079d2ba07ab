"""The processing side's entry: a call in, its reply (or the client's error) out.

A handler class lists what it serves with ``@implements(SomeCall)``. ``Handler.run(call)``
runs one typed call and raises the chalicelib.errors class a client should see; the
in-process invoker calls it directly. ``Handler.__call__`` is the JSON entry (Lambda,
local workers): it decodes the event into its call (400 when malformed), runs it and
encodes the reply. Errors come back there as ``{"error": {"code", "message"}}`` results,
never as raised exceptions, so a Lambda invoke never reports a FunctionError with a
stack trace.
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
from chalicelib.handlers.wire import Call, Json, R, Reply, decode_call
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
        """The JSON entry (Lambda, local workers): an event in, a result or an error result out."""
        try:
            reply: Reply = self.run(decode_call(event))
            return reply.to_json()
        except DeltaError as exc:
            return to_result(exc)

    def run(self, call: Call[R]) -> R:
        """Run one call and return its reply; failures raise the DeltaError the client sees.

        The in-process invoker calls this directly: no JSON between the route side and
        the handler when both live in one process.
        """
        method = self._methods.get(call.action)
        if method is None:
            raise BadRequest(f"{call.action} is not served by {self.function}")
        try:
            reply: R = self._run(getattr(self, method), call)
        except DeltaError as exc:
            self.after(call, exc)
            raise
        self.after(call, None)
        return reply

    def after(self, call: Call[Any], error: DeltaError | None) -> None:
        """Hook run after every call, with its error if it failed."""

    @staticmethod
    def _run(method: Callable[[Any], Reply], call: Call[Any]) -> Any:
        """The method's reply; any failure becomes the DeltaError the client sees."""
        try:
            return method(call)
        except DeltaError:
            raise
        except ObjectNotFound:
            raise NotFound("not found") from None
        except VersionMismatch:
            raise PreconditionFailed("precondition failed: the object changed") from None
        except DatabaseGone as exc:  # shredded: the envelope's key lookup refused it
            raise Gone(str(exc)) from None
        except EnvelopeError as exc:
            log.error("integrity failure in %s: %s", call.action, exc)
            raise IntegrityError("stored entity failed integrity verification") from None
        except (OSError, StorageUnavailable) as exc:
            log.error("storage failure in %s: %s", call.action, exc)
            raise Unavailable("storage unavailable") from None
        except KeyServiceUnavailable as exc:
            log.error("key service failure in %s: %s", call.action, exc)
            raise Unavailable("key service unavailable") from None
        except (KeyError, TypeError):  # a well-typed call with bad contents (e.g. a record without "id")
            raise BadRequest("malformed event") from None
