"""Local harness: the ``deltadb`` command and the HTTP adapter around the Chalice app."""
