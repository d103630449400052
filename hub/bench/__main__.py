"""``python -m hub.bench``: the same as ``hub bench`` (``hub/cli.py``), for the Makefile and the tests."""

import typer

from hub.bench.command import bench

if __name__ == "__main__":
    typer.run(bench)
