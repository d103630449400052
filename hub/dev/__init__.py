"""The local stack a developer runs: ``make run`` and ``make demo`` (:mod:`hub.dev.stack`), the demo orders and
the invariants they must meet, the harness that bench and chaos start, child processes and the Temporal binaries.
"""
