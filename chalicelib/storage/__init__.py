"""Storage port and its adapters (filesystem, in-memory; S3 in a later module)."""

from chalicelib.storage.base import (
    NotModified,
    ObjectNotFound,
    PreconditionFailed,
    Storage,
    StorageUnavailable,
    StoredObject,
)

__all__ = ["NotModified", "ObjectNotFound", "PreconditionFailed", "Storage", "StorageUnavailable", "StoredObject"]
