"""Benchmarks of pytest-tel3sis-compose against raw Compose, pytest-docker and testcontainers.

`python -m benchmarks.run` runs them; `python -m benchmarks.breakdown` shows where a session's time goes.
"""
