"""The embedded stack behind ``make run`` and ``make demo``.

Starts the Temporal dev server (SQLite file under ``.data/``, Web UI), the sandbox, and a worker process
(``python worker.py``, exactly as in production, pointed at the sandbox), then places demo orders that cover the
happy path and every failure path and prints what became of each.

    python -m hub.dev.stack run    # ... and keep everything running until Ctrl-C
    python -m hub.dev.stack demo   # ... then stop; exit 0 only if every order ended as expected
"""

import argparse
import asyncio
import base64
import contextlib
import secrets
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.dev.binaries import temporal_cli
from hub.dev.demo import print_summary, run_scenarios
from hub.dev.processes import Process
from hub.runtime.api_keys import CODEC, READ, WRITE, hash_key
from hub.runtime.settings import (
    ApiKey,
    ApiSettings,
    CarrierSettings,
    EmailSettings,
    ErpSettings,
    NotificationSettings,
    OrderSettings,
    PaymentSettings,
    Settings,
    SmsSettings,
    TemporalSettings,
    WebhookSecrets,
    to_env,
)
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from workflows.search_attributes import ALL, cli_flag

ROOT = Path(__file__).resolve().parents[2]


class StackSettings(BaseSettings):
    """Ports and places of the embedded stack; ``HUB_STACK_UI_PORT=9233 make run`` and so on."""

    model_config = SettingsConfigDict(env_prefix="HUB_STACK_")

    host: str = "127.0.0.1"
    temporal_port: int = 7233
    ui_port: int = 8233
    sandbox_port: int = 8100
    smtp_port: int = 2525
    data_dir: Path = ROOT / ".data"
    api_port: int = 8000
    task_queue: str = "orders"


def temporal_command(
    host: str, port: int, db_file: Path | None, *, ui_port: int | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """``temporal server start-dev`` on ``host:port`` with its SQLite file (in memory when ``db_file`` is None, as
    for the test suite) and every search attribute the hub uses; no Web UI when ``ui_port`` is None (measurement
    runs and tests, which also pass ``extra`` server flags)."""
    command = [
        temporal_cli(),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        *(["--db-filename", str(db_file)] if db_file is not None else []),
        "--log-level",
        "warn",
        *(["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]),
        *extra,
    ]
    for key in ALL:
        command += ["--search-attribute", cli_flag(key)]
    return command


def start_temporal(settings: StackSettings, log_dir: Path) -> Process:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = temporal_command(
        settings.host,
        settings.temporal_port,
        settings.data_dir / "temporal.db",
        ui_port=settings.ui_port,
        # The Web UI decrypts payloads through the API's codec server (the UI's page calls it from the browser).
        extra=["--ui-codec-endpoint", f"http://{settings.host}:{settings.api_port}/codec"],
    )
    return Process("temporal", command, log_dir)


def sandbox_settings(sandbox: SandboxProcess, *, temporal_address: str, task_queue: str, timeout_s: float) -> Settings:
    """The hub's settings against the sandbox. ``timeout_s`` should be shorter than the sandbox's hold on
    "timeout after apply" answers, so that those really time out."""
    url = sandbox.base_url
    return Settings(
        temporal=TemporalSettings(address=temporal_address, task_queue=task_queue),
        payment=PaymentSettings(base_url=url, timeout_s=timeout_s),
        carrier=CarrierSettings(base_url=f"{url}/v2", timeout_s=timeout_s),
        erp=ErpSettings(base_url=f"{url}/erp", timeout_s=timeout_s),
        email=EmailSettings(host=sandbox.host, port=sandbox.smtp_port, timeout_s=timeout_s),
        # Email only, as by default; a test or the demo adds SMS per event, already pointed at the sandbox.
        notifications=NotificationSettings(sms=SmsSettings(base_url=url, timeout_s=timeout_s)),
        log_format="json",
    )


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


def api_settings(
    settings: Settings, access: DemoAccess, host: str, port: int, *, ui_origin: str | None = None
) -> Settings:
    key = ApiKey(id="demo", sha256=hash_key(access.api_key), scopes=[READ, WRITE, CODEC])
    api = ApiSettings(host=host, port=port, keys=[key], webhooks=access.secrets, codec_cors_origin=ui_origin)
    return settings.model_copy(update={"api": api})


def demo_encryption_keys(data_dir: Path) -> list[Path]:
    """The stack's payload encryption keys, as secret files under ``data_dir/keys`` (oldest first by name).

    Unlike the API key these outlive the run: the dev server's database does, and its histories must stay
    readable. The first run makes one; drop another file in (``demo-2``) to rotate."""
    keys = data_dir / "keys"
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not any(keys.iterdir()):
        first = keys / "demo-1"
        first.touch(mode=0o600)
        first.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return sorted(path for path in keys.iterdir() if path.is_file())


async def wait_until_up(url: str, process: Process, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not start:\n{process.tail()}")
            await asyncio.sleep(0.2)


def webhook_targets(api_url: str, secrets: WebhookSecrets) -> dict[str, dict[str, str]]:
    """Where each upstream (here, the sandbox) pushes its events to the hub, and the secret it signs with."""
    return {
        source: {"url": f"{api_url}/webhooks/{source}", "secret": secret.get_secret_value()}
        for source in ("carrier", "payment", "erp")
        if (secret := getattr(secrets, source)) is not None
    }


@dataclass
class Stack:
    temporal: Process
    sandbox: SandboxProcess
    worker: Process
    api: Process
    api_url: str
    access: DemoAccess


@contextlib.contextmanager
def stack(settings: StackSettings) -> Iterator[Stack]:
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    temporal = start_temporal(settings, log_dir)
    sandbox = SandboxProcess(log_path=log_dir / "sandbox.log")
    started: list[Process] = []
    try:
        sandbox.start(settings.host, settings.sandbox_port, settings.smtp_port, transit_seconds=1, hang_seconds=3)
        hub = sandbox_settings(
            sandbox,
            temporal_address=f"{settings.host}:{settings.temporal_port}",
            task_queue=settings.task_queue,
            timeout_s=2,
        )
        access = demo_access()
        ui_origin = f"http://localhost:{settings.ui_port}"
        hub = api_settings(hub, access, settings.host, settings.api_port, ui_origin=ui_origin)
        # Payloads are encrypted, as they should be in production; the Web UI decodes them through the API.
        keys = demo_encryption_keys(settings.data_dir)
        hub = hub.model_copy(update={"temporal": hub.temporal.model_copy(update={"encryption_key_files": keys})})
        # Parcels move by the carrier's webhooks; polling is the fallback for a webhook that never comes.
        hub = hub.model_copy(update={"orders": OrderSettings(tracking_poll_interval=timedelta(seconds=30))})
        started.append(Process.worker(log_dir, to_env(hub)))
        started.append(Process("api", [sys.executable, "-m", "api"], log_dir, to_env(hub)))
        yield Stack(temporal, sandbox, started[0], started[1], f"http://{settings.host}:{settings.api_port}", access)
    finally:
        for process in reversed(started):
            process.stop()
        sandbox.stop()
        temporal.stop()


async def main(mode: str) -> int:
    settings = StackSettings()
    with stack(settings) as running:
        await wait_until_up(f"{running.api_url}/readyz", running.api, timeout_s=90)
        async with SandboxControl(running.sandbox.base_url) as sandbox:
            # The sandbox pushes its events to the API, as the real upstreams would.
            await sandbox.set_webhooks(**webhook_targets(running.api_url, running.access.secrets))
        print(
            f"Temporal dev server {settings.host}:{settings.temporal_port}, Web UI http://localhost:{settings.ui_port}"
        )
        print(f"API {running.api_url} (OpenAPI at {running.api_url}/docs), key for this run: {running.access.api_key}")
        print(f"Sandbox {running.sandbox.base_url}, SMTP sink {settings.host}:{running.sandbox.smtp_port}")
        print(f"Logs in {running.worker.log_path.parent}")
        results = await run_scenarios(running.api_url, running.access.api_key, running.sandbox.base_url)
        ok = print_summary(results, running.sandbox.base_url, settings.ui_port)
        if mode == "run":
            print("\nEverything keeps running; Ctrl-C stops it.")
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await stop.wait()
            print("Stopping …")
        return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["run", "demo"])
    sys.exit(asyncio.run(main(parser.parse_args().mode)))
