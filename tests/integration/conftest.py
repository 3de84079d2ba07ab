"""Integration tests share the S3 server fixtures of tests/conftest.py."""
