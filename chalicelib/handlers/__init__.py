"""Processing handlers: plain-JSON event in, plain-JSON result out.

They hold the keys and do the storage I/O; they never see HTTP. Errors come back as
``{"error": {"code", "message"}}`` results (see chalicelib.errors), never as raised
exceptions, so a Lambda invoke never reports a FunctionError with a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.crypto.envelope import EnvelopeError
from chalicelib.crypto.kms_keyring import KmsUnavailable
from chalicelib.errors import (
    BadRequest,
    DeltaError,
    IntegrityError,
    NotFound,
    PreconditionFailed,
    Unavailable,
    to_result,
)
from chalicelib.storage.base import ObjectNotFound, StorageUnavailable
from chalicelib.storage.base import PreconditionFailed as StoragePrecondition

log = logging.getLogger(__name__)

Op = Callable[[dict[str, Any]], dict[str, Any]]


def dispatch(ops: dict[str, Op], event: dict[str, Any]) -> dict[str, Any]:
    op = ops.get(str(event.get("op")))
    if op is None:
        return to_result(BadRequest(f"unknown operation {event.get('op')!r}"))
    try:
        return op(event)
    except DeltaError as exc:
        return to_result(exc)
    except ObjectNotFound:
        return to_result(NotFound("not found"))
    except StoragePrecondition:
        return to_result(PreconditionFailed("precondition failed: the object changed"))
    except EnvelopeError as exc:
        log.error("integrity failure in %s: %s", event.get("op"), exc)
        return to_result(IntegrityError("stored entity failed integrity verification"))
    except (KeyError, TypeError):
        return to_result(BadRequest("malformed event"))
    except (OSError, StorageUnavailable) as exc:
        log.error("storage failure in %s: %s", event.get("op"), exc)
        return to_result(Unavailable("storage unavailable"))
    except KmsUnavailable as exc:
        log.error("key service failure in %s: %s", event.get("op"), exc)
        return to_result(Unavailable("key service unavailable"))
