"""Credentials (admin key, ``dk_`` API keys, JWT sessions) and permissions."""
