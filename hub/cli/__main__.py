"""``python -m hub.cli``: the ``hub`` command without the console script."""

from hub.cli.app import app

app()
