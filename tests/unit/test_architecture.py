"""The layering is a contract the build checks: import-linter's contracts in ``pyproject.toml``
(``[tool.importlinter]``) hold for the code as it is, and each one fails when a forbidden import is planted in a
copy of the code, so the check has teeth.

``lint-imports`` runs in a subprocess: it finds the packages through ``sys.path``, and in this process they are
already imported from the working tree, so a planted copy would not be the one it read.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"
LINTER = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]
PACKAGES: list[str] = LINTER["root_packages"]
CONTRACTS: list[str] = [contract["name"] for contract in LINTER["contracts"]]


def _lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts over the packages found in ``where`` (first on the path,
    so that a planted copy is what it reads, not the editable install)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo", str(CONFIG)],
        cwd=where,
        env={**os.environ, "PYTHONPATH": str(where)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _broken(output: str) -> set[str]:
    """The names of the contracts the report calls BROKEN (a long name wraps over lines in the report)."""
    flat = " ".join(output.split())
    return {name for name in CONTRACTS if f"{' '.join(name.split())} BROKEN" in flat}


def test_every_layer_imports_only_what_it_may() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _broken(result.stdout) == set()
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("workflows/saga.py", "import time", "Workflows are deterministic"),
        ("workflows/saga.py", "import uuid", "Workflows are deterministic"),
        ("workflows/saga.py", "import httpx", "Workflows are deterministic"),
        ("workflows/saga.py", "from connectors import http", "Workflows are deterministic"),
        ("connectors/http.py", "from temporalio import activity", "Connectors know nothing of Temporal"),
        ("domain/order.py", "import temporalio.workflow", "The domain depends on nothing"),
        ("hub/runtime/settings.py", "from hub.dev import processes", "The runtime imports no tooling"),
        ("api/app.py", "from hub.verify import actions", "The API imports no tooling"),
        ("hub/dev/stack.py", "from api.auth import Authenticator", "The hub never imports the API"),
        ("sandbox/__main__.py", "from hub.runtime.logging import configure_logging", "The sandbox"),
        ("sandbox/webhooks.py", "from connectors.webhook_signatures import sign_stripe", "The sandbox"),
        ("hub/dev/harness.py", "from hub.verify import actions", "Layers"),
        ("hub/runtime/upstreams.py", "from hub.client import OrderClient", "Layers"),
    ],
)
def test_a_planted_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / module).open("a") as source:
        source.write(f"\n{planted}  # planted by the architecture test\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout
    assert any(name.startswith(contract) for name in _broken(result.stdout)), result.stdout
