"""Deterministic orchestration: no I/O, clocks, randomness or environment reads in this package."""
