"""DeltaDatabase: the Chalice app, as AWS Lambda and ``chalice deploy`` see it.

Table of contents:

- routes (the main worker): chalicelib/routes/ — one Blueprint per resource (entities,
  schemas, keys, admin/health), each view with its required permission; use cases in
  chalicelib/services/. Routes do no crypto on entities and no storage I/O.
- processing functions ``entity_worker`` and ``meta_worker`` (``@app.lambda_function``,
  registered by chalicelib/webapp.py): the handlers in chalicelib/handlers/, reached
  through the Invoker (in-process, local worker pool or Lambda) with the typed calls of
  chalicelib/handlers/protocol.py.
- composition root: chalicelib/bootstrap.py builds it all from the environment
  (chalicelib/config.py) on first use; importing this module builds nothing.
"""

from __future__ import annotations

from chalicelib.bootstrap import Runtime
from chalicelib.handlers.protocol import ENTITY_FUNCTION, META_FUNCTION
from chalicelib.webapp import create_app

runtime = Runtime()
app = create_app(runtime)

# Lambda calls the processing functions as app.<name> (the handler strings Chalice records).
entity_worker = app.handler_map[ENTITY_FUNCTION]
meta_worker = app.handler_map[META_FUNCTION]
