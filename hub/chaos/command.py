"""``hub chaos``: the chaos run as a command of the ``hub`` CLI (``make chaos`` runs it with its defaults)."""

from pathlib import Path
from typing import Annotated

import typer


def chaos(
    orders: Annotated[int, typer.Option(min=1, help="Orders of every kind (happy, failing, returning).")] = 200,
    place_over: Annotated[float, typer.Option(min=0, help="Seconds over which the orders are placed.")] = 40.0,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes; one is SIGKILLed at a time.")] = 2,
    kill_every: Annotated[float, typer.Option(min=0.5, help="Seconds between worker kills.")] = 6.0,
    kills: Annotated[int | None, typer.Option(min=1, help="Stop after this many kills (default: no limit).")] = None,
    restart_after: Annotated[float, typer.Option(min=0, help="Seconds until the Temporal server restarts.")] = 20.0,
    deadline: Annotated[float, typer.Option(min=1, help="Seconds for every order to end.")] = 420.0,
    seed: Annotated[int, typer.Option(help="Seed of the sandbox's fault draws (a run replays).")] = 7,
    data_dir: Annotated[
        Path | None, typer.Option(help="The stack's files and logs (default .data/chaos/<time>).")
    ] = None,
) -> None:
    """Orders under worker kills, 30 % transient faults, 5 % timeouts after success and a server restart; then
    every order's money, stock, labels and messages are checked against the sandbox. Exit 1 on any violation."""
    from hub.chaos.run import main  # the stack's imports, only when running it

    argv = [
        f"--orders={orders}",
        f"--place-over={place_over}",
        f"--workers={workers}",
        f"--kill-every={kill_every}",
        f"--restart-after={restart_after}",
        f"--deadline={deadline}",
        f"--seed={seed}",
    ]
    argv += [f"--kills={kills}"] if kills is not None else []
    argv += [f"--data-dir={data_dir}"] if data_dir is not None else []
    raise typer.Exit(main(argv))
