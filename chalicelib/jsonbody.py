"""Strict JSON in and out: every malformed body becomes a 400, never a 500."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from chalicelib.errors import BadRequest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# One decoder for every body (json.loads with these hooks would build a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse(raw: bytes | str | None) -> Any:
    """Parse a request body; BadRequest for anything that is not strict JSON."""
    if raw is None or raw == b"" or raw == "":
        raise BadRequest("request body must be JSON")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
        return _DECODER.decode(text)
    except RecursionError:
        raise BadRequest("JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8") from None
    except ValueError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None


def _compact(ensure_ascii: bool) -> Callable[[Any], str]:
    """Compact JSON text as ``json.dumps(value, separators=(",", ":"))`` writes it, by an encoder made once.

    ``JSONEncoder.encode`` builds its C encoder anew on every call, which cost a write more
    than encoding a small value. Parsed JSON has no cycles, so the circular-reference check
    is left out (``markers`` None); a value nested too deeply is still a RecursionError.
    """
    standard = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=(",", ":"))
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:  # a Python without json's C accelerator: the standard way
        return standard.encode
    escape = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    encode = make(None, standard.default, escape, None, ":", ",", False, False, True)

    def text(value: Any) -> str:
        return "".join(encode(value, 0))

    return text


_UNICODE = _compact(ensure_ascii=False)
_ASCII = _compact(ensure_ascii=True)


def dumps(value: Any) -> str:
    """Compact JSON text of a parsed value; keeps unicode readable, escapes lone surrogates."""
    try:
        text = _UNICODE(value)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _ASCII(value)
    except RecursionError:
        raise BadRequest("JSON nested too deeply") from None
