"""``python -m hub.verify.bench`` (``make bench``): the same command as ``hub bench``."""

import typer

from hub.verify.bench.command import bench

if __name__ == "__main__":
    typer.run(bench)
