"""Helpers for the test suite; fixtures themselves live in tests/conftest.py."""
