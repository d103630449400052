"""``python -m hub.verify.chaos`` (``make chaos``): the same command as ``hub chaos``."""

import typer

from hub.verify.chaos.command import chaos

if __name__ == "__main__":
    typer.run(chaos)
