"""The local stack a developer runs: ``make run`` and ``make demo`` (:mod:`hub.dev.stack`), the run's access
(:mod:`hub.dev.access`) and the wait for its processes (:mod:`hub.dev.readiness`), the demo orders and the invariants
they must meet, the harness that bench and chaos start, child processes and the Temporal CLI.
"""
