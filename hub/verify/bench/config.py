"""The benchmark's options, declared once: ``hub bench`` and ``python -m hub.verify.bench`` take their defaults
from here (:mod:`hub.verify.bench.command`).

Imports nothing heavy: the ``hub`` CLI loads it on every invocation.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchConfig:
    orders: int = 1000
    concurrency: int = 100
    workers: int = 2
    path_samples: int = 5
    """Orders per non-happy path whose histories are counted (the happy path samples the throughput run)."""
    reference: bool = True
    warmup: int = 20
    out_dir: Path = Path(".data/bench")
    docs: Path | None = None
    """Regenerate this markdown file (and a PNG next to it) from the figures."""
    transit_seconds: float = 0.5
    """The sandbox carrier's step between scans (delivered three steps after the label is bought): long enough for
    the saga to capture and commit first, as a real parcel would, short enough not to dominate the latency."""
    progress: bool = True
    command: str = "python -m hub.verify.bench"
    workflow_timeout_s: float = 60.0
    """A workflow not finished this long after its start counts as failed (and the run as broken), so that a
    lost event shows up as a failure instead of hanging the benchmark until the tracking poll."""
