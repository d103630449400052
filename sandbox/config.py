"""Runtime options of the sandbox process."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the sandbox needs to start; the defaults are the documented ones.

    ``hang_seconds`` is how long a "timeout after apply" fault holds the response: it must exceed the
    client's timeout for the fault to produce an indeterminate outcome. ``transit_seconds`` is the step of
    the carrier's tracking auto-advance.
    """

    host: str = "127.0.0.1"
    http_port: int = 8100
    smtp_port: int = 2525
    seed: int = 1
    hang_seconds: float = 5.0
    transit_seconds: float = 5.0
    default_stock: int = 1_000_000
    log_level: str = "info"
