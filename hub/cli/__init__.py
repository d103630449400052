"""``hub``, the operator's command line: a client of the hub's HTTP API, plus ``hub bench`` and ``hub chaos``.

The console script is ``hub = "hub.cli:app"``; the commands live in :mod:`hub.cli.app`.
"""

from hub.cli.app import app

__all__ = ["app"]
