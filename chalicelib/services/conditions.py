"""HTTP preconditions of a request, as the entity use cases take them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conditions:
    """``If-Match`` / ``If-None-Match``."""

    if_match: str | None = None
    if_none_match: str | None = None
