"""Route-side use cases, one module per resource: validate, then call the processing handlers.

They take parsed request parts (names still raw from the path, bodies already parsed as
JSON) and return plain data or protocol replies. Who may call them is declared at the
route (chalicelib/routes/), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the route modules need only the name; the composition root imports the rest
    from chalicelib.auth.authenticator import Authenticator
    from chalicelib.services.admin import AdminService
    from chalicelib.services.entities import EntityService
    from chalicelib.services.keys import KeyService
    from chalicelib.services.schemas import SchemaService
    from chalicelib.services.sessions import SessionService


@dataclass(frozen=True)
class Services:
    auth: Authenticator
    entities: EntityService
    schemas: SchemaService
    keys: KeyService
    sessions: SessionService
    admin: AdminService
    max_body_bytes: int
