"""``hub chaos`` and ``python -m hub.verify.chaos`` (``make chaos``): one command, its defaults those of
:class:`~hub.verify.chaos.config.ChaosConfig`."""

from pathlib import Path
from typing import Annotated

import typer

from hub.verify.chaos.config import ChaosConfig

_DEFAULTS = ChaosConfig()


def chaos(
    orders: Annotated[int, typer.Option(min=1, help="Orders of every kind (happy, failing, returning).")] = (
        _DEFAULTS.orders
    ),
    place_over: Annotated[float, typer.Option(min=0, help="Seconds over which the orders are placed.")] = (
        _DEFAULTS.place_over_s
    ),
    workers: Annotated[int, typer.Option(min=1, help="Worker processes; one is SIGKILLed at a time.")] = (
        _DEFAULTS.workers
    ),
    kill_every: Annotated[float, typer.Option(min=0.5, help="Seconds between worker kills.")] = (
        _DEFAULTS.kill_every_s
    ),
    kills: Annotated[int | None, typer.Option(min=1, help="Stop after this many kills (default: no limit).")] = (
        _DEFAULTS.max_kills
    ),
    restart_after: Annotated[float, typer.Option(min=0, help="Seconds until the Temporal server restarts.")] = (
        _DEFAULTS.restart_after_s
    ),
    deadline: Annotated[float, typer.Option(min=1, help="Seconds for every order to end.")] = _DEFAULTS.deadline_s,
    return_window: Annotated[
        float, typer.Option(min=0, help="Seconds the returning orders stay open after delivery.")
    ] = _DEFAULTS.return_window_s,
    seed: Annotated[int, typer.Option(help="Seed of the sandbox's fault draws (a run replays).")] = _DEFAULTS.seed,
    data_dir: Annotated[
        Path | None, typer.Option(help="The stack's files and logs (default .data/chaos/<time>).")
    ] = None,
) -> None:
    """Orders under worker kills, 30 % transient faults, 5 % timeouts after success and a server restart; then
    every order's money, stock, labels and messages are checked against the sandbox. Exit 1 on any violation."""
    from hub.verify.chaos.run import run_and_report  # the stack's imports, only when running it

    config = ChaosConfig(
        orders=orders,
        place_over_s=place_over,
        workers=workers,
        kill_every_s=kill_every,
        max_kills=kills,
        restart_after_s=restart_after,
        deadline_s=deadline,
        return_window_s=return_window,
        seed=seed,
    )
    raise typer.Exit(run_and_report(config, data_dir))
