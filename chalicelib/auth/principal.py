"""Who is calling and what they may do."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import Forbidden

READ, WRITE, ADMIN = "read", "write", "admin"
PERMISSIONS = (READ, WRITE, ADMIN)


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str
    permissions: frozenset[str]
    key_id: str | None = None  # the API key behind the credential, if any

    def require(self, permission: str) -> None:
        """``admin`` grants everything; otherwise the permission itself is needed."""
        if ADMIN not in self.permissions and permission not in self.permissions:
            raise Forbidden(f"this credential lacks the '{permission}' permission")


def ordered(permissions: frozenset[str] | set[str] | list[str]) -> list[str]:
    """Permissions in their canonical order, for responses."""
    return [p for p in PERMISSIONS if p in permissions]


ADMIN_PRINCIPAL = Principal("admin", frozenset(PERMISSIONS))
