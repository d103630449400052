"""The chaos run's options, declared once: ``hub chaos`` and ``python -m hub.verify.chaos`` take their defaults
from here (:mod:`hub.verify.chaos.command`), and the short form in the tests builds one directly.

Imports nothing heavy: the ``hub`` CLI loads it on every invocation.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChaosConfig:
    orders: int = 200
    place_over_s: float = 40.0
    """Orders are placed evenly over this long, so kills and the restart find orders at every step."""
    workers: int = 2
    kill_every_s: float = 6.0
    max_kills: int | None = None
    """Stop killing after this many (the short form); ``None``: until the last order ends."""
    restart_after_s: float = 20.0
    """When the Temporal server restarts (once), counted from the first order."""
    error_rate: float = 0.3
    timeout_rate: float = 0.05
    faults_per_request: int = 2
    return_window_s: float = 45.0
    deadline_s: float = 420.0
    """An order not ended this long after the first one was placed is a violation."""
    transit_seconds: float = 1.0
    hang_seconds: float = 2.0
    upstream_timeout_s: float = 1.0
    """Shorter than ``hang_seconds``, so a timeout after success really times out at the hub."""
    seed: int = 7
    run_id: str = ""
    """Prefix of every order id; a fresh one per run when empty."""
