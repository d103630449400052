"""How a person gets into the stack ``make run`` started: its API key and webhook secrets, made for the run.

Nothing is fixed or taken from the environment, so nothing of it can leak into a deployment or sign a webhook
against a stack it was not made for. The stack prints all of it and writes it to ``<data dir>/access.env``
(readable by its owner only, removed when the stack stops), in the form a shell reads: after
``set -a; . .data/access.env; set +a`` the ``hub`` CLI talks to this stack with this key. A sample ERP event is
written beside it (``webhooks/erp-stock-changed.json``), so that the printed ``hub webhook send`` line works as
printed.
"""

import base64
import json
import os
import secrets
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from hub.runtime.settings import WebhookSecrets

SOURCES = ("erp", "carrier", "payment")
"""The upstreams that push webhooks to the hub, in the order they are printed."""

SAMPLE_SKU = "LAMP-SOLD-OUT"
"""The demo's sold-out SKU: the sample event says it is back, and wakes any order waiting for it."""


@dataclass(frozen=True)
class DemoAccess:
    api_key: str
    secrets: WebhookSecrets


def demo_access() -> DemoAccess:
    """A fresh API key and webhook secrets for this run: nothing fixed that could leak into a deployment."""
    return DemoAccess(
        api_key="hub_demo_" + secrets.token_urlsafe(16),
        secrets=WebhookSecrets(
            erp=SecretStr("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()),
            carrier=SecretStr(secrets.token_hex(16)),
            payment=SecretStr("whsec_" + secrets.token_hex(16)),
        ),
    )


def secret_variable(source: str) -> str:
    """The access file's variable holding ``source``'s webhook secret."""
    return f"HUB_WEBHOOK_SECRET_{source.upper()}"


def access_env(access: DemoAccess, api_url: str) -> dict[str, str]:
    """The access file's variables: the CLI's own (``HUB_API_URL``, ``HUB_API_KEY``) and each source's secret."""
    env = {"HUB_API_URL": api_url, "HUB_API_KEY": access.api_key}
    for source in SOURCES:
        if (secret := getattr(access.secrets, source)) is not None:
            env[secret_variable(source)] = secret.get_secret_value()
    return env


def write_access_file(path: Path, env: dict[str, str]) -> None:
    """``env`` as ``NAME=value`` lines in ``path``, readable and writable by its owner only from its creation on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # one left by an earlier run may have been made with other permissions
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(descriptor, 0o600)  # exactly 0600, whatever the umask
    with os.fdopen(descriptor, "w") as file:
        file.write("# The local stack's access for this run (make run). In a shell: set -a; . THIS_FILE; set +a\n")
        file.writelines(f"{name}={shlex.quote(value)}\n" for name, value in env.items())


def read_access_file(path: Path) -> dict[str, str]:
    """The variables :func:`write_access_file` wrote."""
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {name: shlex.split(value)[0] for name, _, value in (line.partition("=") for line in lines)}


def write_sample_event(directory: Path) -> Path:
    """An ERP ``stock.changed`` event to send with ``hub webhook send erp``: the demo's sold-out SKU is back."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "erp-stock-changed.json"
    event = {
        "type": "stock.changed",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"sku": SAMPLE_SKU, "available": 5, "restock_date": None},
    }
    path.write_text(json.dumps(event, indent=2) + "\n")
    return path


def webhook_command(hub: Path, api_url: str, event: Path, secret: str) -> str:
    """The shell line that signs ``event`` as the ERP does and posts it to the stack's API."""
    return shlex.join([str(hub), "--api-url", api_url, "webhook", "send", "erp", str(event), "--secret", secret])
