"""Storage port (base.py) and its adapters: filesystem (fs.py), S3 (s3.py), in-memory (memory.py, tests)."""

from chalicelib.storage.base import (
    NotModified,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
    VersionMismatch,
)

__all__ = ["NotModified", "ObjectNotFound", "Storage", "StorageUnavailable", "StoredObject", "VersionMismatch"]
