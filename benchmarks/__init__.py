"""Benchmarks: printed figures, not tests (run them with ``python -m benchmarks.NAME``)."""
