"""``hub bench`` and ``python -m hub.verify.bench`` (``make bench``): one command, its defaults those of
:class:`~hub.verify.bench.config.BenchConfig`.

Imports nothing heavy at module level: the ``hub`` CLI loads this on every invocation.
"""

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.verify.bench.config import BenchConfig

_DEFAULTS = BenchConfig()


def bench(
    orders: Annotated[int, typer.Option(min=1, help="Orders in the measured window (and reference workflows).")] = (
        _DEFAULTS.orders
    ),
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="Workflows in flight at once: enough that both sides keep the CPUs busy, so that the ratio "
            "compares capacity, not the parcel's simulated transit.",
        ),
    ] = _DEFAULTS.concurrency,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (hub and reference alike).")
    ] = _DEFAULTS.workers,
    path_samples: Annotated[int, typer.Option(min=1, help="Orders counted per declined/compensated/return path.")] = (
        _DEFAULTS.path_samples
    ),
    warmup: Annotated[int, typer.Option(min=0, help="Unmeasured orders first, on each side.")] = _DEFAULTS.warmup,
    reference: Annotated[bool, typer.Option(help="Also run the reference workflow (the ratio needs it).")] = (
        _DEFAULTS.reference
    ),
    transit_seconds: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="The sandbox carrier's step between scans: delivered 3 steps after the label is bought. Shorter "
            "than the saga's capture and commit, it delivers parcels before they have shipped.",
        ),
    ] = _DEFAULTS.transit_seconds,
    out: Annotated[Path, typer.Option(help="Where bench.json, bench.png and the stack's logs go.")] = (
        _DEFAULTS.out_dir
    ),
    docs: Annotated[
        Path | None, typer.Option(help="Regenerate this markdown page (and a PNG beside it) from the figures.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="A progress bar on stderr.")] = _DEFAULTS.progress,
) -> None:
    """Measure the hub on a fresh local stack: throughput against a reference workflow, latency, Temporal actions
    per order and path, history size, worker memory. Prints the figures as one JSON line, last on stdout."""
    from hub.dev.harness import stoppable
    from hub.verify.bench.run import run  # the stack's imports, only when benchmarking

    config = BenchConfig(
        orders=orders,
        concurrency=concurrency,
        workers=workers,
        path_samples=path_samples,
        warmup=warmup,
        reference=reference,
        transit_seconds=transit_seconds,
        out_dir=out,
        docs=docs,
        progress=progress,
        command=shlex.join(["hub", *sys.argv[1:]]) if Path(sys.argv[0]).name == "hub" else _module_command(),
    )
    figures = asyncio.run(stoppable(run(config)))
    typer.echo(json.dumps(figures, separators=(",", ":")))
    if figures["failed_orders"] or figures["failed_reference"]:
        # The figures are printed all the same, but a run that lost workflows measured something else.
        typer.echo("workflows failed or did not finish:\n  " + "\n  ".join(figures["failures"]), err=True)
        raise typer.Exit(1)


def _module_command() -> str:
    return shlex.join(["python", "-m", "hub.verify.bench", *sys.argv[1:]])
