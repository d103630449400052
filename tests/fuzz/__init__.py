"""The scenario generator: seeded random walks over an order's life, run on the dev server over the in-memory
upstreams with compressed time, each checked against the invariants (``hub.dev.invariants``) once it rests.

``python -m tests.fuzz`` (``make fuzz``) runs thousands; ``test_generated_short.py`` a few fixed seeds in
``make test``."""
