"""The Invoker port: how the routes (main worker) reach the processing handlers."""

from chalicelib.invoke.base import ENTITY_WORKER, META_WORKER, Invoker

__all__ = ["ENTITY_WORKER", "META_WORKER", "Invoker"]
