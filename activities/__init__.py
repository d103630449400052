"""Thin, Temporal-facing wrappers around the connectors: each activity is a bound method of a class that
holds its injected connector, derives the idempotency key from the order, and calls one port method."""
