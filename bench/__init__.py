"""Benchmarks (not tests): `python -m bench` runs the scale benchmark (see __main__.py)."""
