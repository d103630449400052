"""The ``bench`` command's options, shared by ``hub bench`` (``hub/cli.py``) and ``python -m hub.bench``.

Imports nothing heavy at module level: the ``hub`` CLI loads this on every invocation.
"""

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer


def bench(
    orders: Annotated[int, typer.Option(min=1, help="Orders in the measured window (and reference workflows).")] = 1000,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="Workflows in flight at once: enough that both sides keep the CPUs busy, so that the ratio "
            "compares capacity, not the parcel's simulated transit.",
        ),
    ] = 100,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (hub and reference alike).")] = 2,
    path_samples: Annotated[int, typer.Option(min=1, help="Orders counted per declined/compensated/return path.")] = 5,
    warmup: Annotated[int, typer.Option(min=0, help="Unmeasured orders first, on each side.")] = 20,
    reference: Annotated[bool, typer.Option(help="Also run the reference workflow (the ratio needs it).")] = True,
    transit_seconds: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="The sandbox carrier's step between scans: delivered 3 steps after the label is bought. Shorter "
            "than the saga's capture and commit, it delivers parcels before they have shipped.",
        ),
    ] = 0.5,
    out: Annotated[Path, typer.Option(help="Where bench.json, bench.png and the stack's logs go.")] = Path(
        ".data/bench"
    ),
    docs: Annotated[
        Path | None, typer.Option(help="Regenerate this markdown page (and a PNG beside it) from the figures.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="A progress bar on stderr.")] = True,
) -> None:
    """Measure the hub on a fresh local stack: throughput against a reference workflow, latency, Temporal actions
    per order and path, history size, worker memory. Prints the figures as one JSON line, last on stdout."""
    from hub.bench.run import BenchConfig, run  # the stack's imports, only when benchmarking
    from hub.harness import stoppable

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
    return shlex.join(["python", "-m", "hub.bench", *sys.argv[1:]])
