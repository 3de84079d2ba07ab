"""Metrics port: one interface the routes, handlers, storage and caches call.

``base.py`` declares the port (``Metrics``), the metric catalog (names, kinds, labels:
declared once, both adapters derive from it) and the no-op adapter (metrics off: the
default, nothing imported). Adapters, each imported only by the composition root when
chosen: ``prometheus.py`` (``deltadb serve|up --metrics-port``, multiprocess mode),
``emf.py`` (CloudWatch embedded metric format in Lambda, through Powertools).
``instrumented.py`` wraps the Storage port to count its operations.
"""
