"""The embedded stack behind ``make run`` and ``make demo``.

Starts the Temporal dev server (SQLite file under ``.data/``, Web UI), the sandbox, a worker process
(``python worker.py``, exactly as in production, pointed at the sandbox) and the API, saying what it waits for;
prints how to get in (API key, webhook secrets, a ``hub webhook send`` line to try; also written to
``.data/access.env``), then places demo orders that cover the happy path and every failure path and prints what
became of each. The retailer's settings come from the environment as the README documents them
(``HUB_ORDERS__RETURNS__WINDOW=P14D make run``): the stack sets only the connections to its own processes.

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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.dev.access import (
    SOURCES,
    DemoAccess,
    access_env,
    demo_access,
    secret_variable,
    webhook_command,
    write_access_file,
    write_sample_event,
)
from hub.dev.binaries import temporal_cli
from hub.dev.demo import print_summary, run_scenarios
from hub.dev.processes import Process
from hub.dev.readiness import StackFailed, port_open, say, shown, wait_for
from hub.runtime.api_keys import CODEC, READ, WRITE, hash_key
from hub.runtime.settings import (
    ApiKey,
    ApiSettings,
    CarrierSettings,
    EmailSettings,
    ErpSettings,
    NotificationSettings,
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


DEMO_TRACKING_POLL = timedelta(seconds=30)
"""Parcels move by the carrier's webhooks; the poll is the fallback for a webhook that never comes, kept short
here so that a lost one shows within the demo (production: ``OrderSettings``' 6 hours)."""


def stack_hub_settings(
    stack: StackSettings,
    sandbox: SandboxProcess,
    access: DemoAccess,
    encryption_key_files: list[Path],
    environment: Settings | None = None,
) -> Settings:
    """What the stack's worker and API run with: ``environment`` (by default ``Settings()``, read from ``HUB_…``
    as in production) with the connections to the stack's own processes put in.

    The stack sets Temporal (its dev server, its task queue, its payload keys), every upstream (the sandbox; SMS to
    the sandbox's Twilio), the API (its address, this run's key and webhook secrets, the Web UI's origin) and JSON
    logs. Everything else is the environment's: the retailer's rules (``HUB_ORDERS__…``), the channels and the
    retailer's webhook (``HUB_NOTIFICATIONS__…``), status events, metrics, tracing, the log level. The tracking
    poll is :data:`DEMO_TRACKING_POLL` unless ``HUB_ORDERS__TRACKING_POLL_INTERVAL`` says otherwise."""
    environment = environment if environment is not None else Settings()
    own = sandbox_settings(
        sandbox, temporal_address=f"{stack.host}:{stack.temporal_port}", task_queue=stack.task_queue, timeout_s=2
    )
    own = api_settings(own, access, stack.host, stack.api_port, ui_origin=f"http://localhost:{stack.ui_port}")
    orders = environment.orders
    if "tracking_poll_interval" not in orders.model_fields_set:
        orders = orders.model_copy(update={"tracking_poll_interval": DEMO_TRACKING_POLL})
    sandbox_sms = own.notifications.sms
    sms = environment.notifications.sms.model_copy(
        update={
            "base_url": sandbox_sms.base_url,
            "account_sid": sandbox_sms.account_sid,
            "auth_token": sandbox_sms.auth_token,
            "timeout_s": sandbox_sms.timeout_s,
        }
    )
    return environment.model_copy(
        update={
            "temporal": own.temporal.model_copy(update={"encryption_key_files": encryption_key_files}),
            "payment": own.payment,
            "carrier": own.carrier,
            "erp": own.erp,
            "email": own.email,
            "api": own.api,
            "orders": orders,
            "notifications": environment.notifications.model_copy(update={"sms": sms}),
            "log_format": own.log_format,
        }
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


def api_and_worker_ready(api_url: str, worker: Process) -> Callable[[], Awaitable[bool]]:
    """The API answers ``/readyz`` (it reaches Temporal) and the worker has said it polls the task queue."""

    async def check() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                api_ready = (await http.get(f"{api_url}/readyz")).status_code == 200
            except httpx.TransportError:
                api_ready = False
        return api_ready and '"worker_started"' in worker.output()

    return check


@dataclass
class Stack:
    temporal: Process
    sandbox: SandboxProcess
    worker: Process
    api: Process
    api_url: str
    access: DemoAccess
    settings: Settings


@contextlib.contextmanager
def stack(settings: StackSettings, environment: Settings | None = None) -> Iterator[Stack]:
    """The stack's processes, started on entry (saying so) and stopped on exit; not yet known to be up."""
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    say(
        f"starting the Temporal dev server on {settings.host}:{settings.temporal_port} "
        f"(Web UI http://localhost:{settings.ui_port})"
    )
    temporal = start_temporal(settings, log_dir)
    sandbox = SandboxProcess(log_path=log_dir / "sandbox.log")
    started: list[Process] = []
    try:
        say(f"starting the sandbox on http://{settings.host}:{settings.sandbox_port} (SMTP port {settings.smtp_port})")
        sandbox.start(settings.host, settings.sandbox_port, settings.smtp_port, transit_seconds=1, hang_seconds=3)
        access = demo_access()
        # Payloads are encrypted, as they should be in production; the Web UI decodes them through the API.
        keys = demo_encryption_keys(settings.data_dir)
        hub = stack_hub_settings(settings, sandbox, access, keys, environment)
        api_url = f"http://{settings.host}:{settings.api_port}"
        say(f"starting a worker (python worker.py) and the API (python -m api) on {api_url}")
        started.append(Process.worker(log_dir, to_env(hub)))
        started.append(Process("api", [sys.executable, "-m", "api"], log_dir, to_env(hub)))
        yield Stack(temporal, sandbox, started[0], started[1], api_url, access, hub)
    finally:
        for process in reversed(started):
            process.stop()
        sandbox.stop()
        temporal.stop()


async def until_ready(settings: StackSettings, running: Stack, timeout_s: float = 90) -> None:
    """Wait for the dev server, then for the API and the worker, saying so; :class:`StackFailed` if one fails."""
    started = time.monotonic()
    processes = [running.temporal, running.worker, running.api]
    await wait_for(
        f"the Temporal dev server on {settings.host}:{settings.temporal_port}",
        port_open(settings.host, settings.temporal_port),
        processes,
        timeout_s,
    )
    await wait_for(
        "the API to be ready (Temporal + worker)",
        api_and_worker_ready(running.api_url, running.worker),
        processes,
        timeout_s - (time.monotonic() - started),
    )
    say(f"ready after {time.monotonic() - started:.0f} s")


def print_access(settings: StackSettings, running: Stack, access: dict[str, str], file: Path, sample: Path) -> None:
    """What a person needs to use the stack (``access``, as written to ``file``), and a webhook to try."""
    hub_cli = Path(sys.executable).parent / "hub"
    rows = [
        (
            "Web UI",
            f"http://localhost:{settings.ui_port} (Temporal dev server {settings.host}:{settings.temporal_port})",
        ),
        ("API", f"{running.api_url} (reference at {running.api_url}/docs)"),
        ("API key", access["HUB_API_KEY"]),
        *(
            (f"{source} secret", f"{access[secret_variable(source)]}  (signs /webhooks/{source})")
            for source in SOURCES
            if secret_variable(source) in access
        ),
        ("sandbox", f"{running.sandbox.base_url}, mail on SMTP {settings.host}:{running.sandbox.smtp_port}"),
        ("logs", f"{shown(running.worker.log_path.parent)}/ (temporal, sandbox, worker, api)"),
        ("access", f"{shown(file)}, mode 0600, for this run: after `set -a; . {shown(file)}; set +a`"),
        ("", "the hub CLI talks to this stack with this key"),
    ]
    say("")
    for label, value in rows:
        say(f"{label:<15} {value}")
    say("try a webhook, signed as the ERP signs it:")
    say(
        "  "
        + webhook_command(Path(shown(hub_cli)), running.api_url, Path(shown(sample)), access[secret_variable("erp")])
    )
    say("")


async def main(mode: str) -> int:
    settings = StackSettings()
    access_file = settings.data_dir / "access.env"
    try:
        with stack(settings) as running:
            await until_ready(settings, running)
            async with SandboxControl(running.sandbox.base_url) as sandbox:
                # The sandbox pushes its events to the API, as the real upstreams would.
                await sandbox.set_webhooks(**webhook_targets(running.api_url, running.access.secrets))
            access = access_env(running.access, running.api_url)
            write_access_file(access_file, access)
            try:
                sample = write_sample_event(settings.data_dir / "webhooks")
                print_access(settings, running, access, access_file, sample)
                say("placing the demo orders …")
                results = await run_scenarios(running.api_url, running.access.api_key, running.sandbox.base_url)
                ok = print_summary(results, running.sandbox.base_url, settings.ui_port)
                if mode == "run":
                    say(f"\nAPI key and webhook secrets: above, and in {shown(access_file)}.")
                    say("Everything keeps running; Ctrl-C stops it.")
                    stop = asyncio.Event()
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
                    await stop.wait()
                    say("Stopping …")
                return 0 if ok else 1
            finally:
                access_file.unlink(missing_ok=True)  # this run's key and secrets die with it
    except StackFailed as failed:
        say(f"the stack did not start: {failed}")
        return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["run", "demo"])
    sys.exit(asyncio.run(main(parser.parse_args().mode)))
