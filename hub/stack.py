"""The embedded stack behind ``make run`` and ``make demo``.

Starts the Temporal dev server (SQLite file under ``.data/``, Web UI), the sandbox, and a worker process
(``python worker.py``, exactly as in production, pointed at the sandbox), then places demo orders that cover the
happy path and every failure path and prints what became of each.

    python -m hub.stack run    # ... and keep everything running until Ctrl-C
    python -m hub.stack demo   # ... then stop; exit 0 only if every order ended as expected
"""

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from hub.binaries import temporal_cli
from hub.demo import print_summary, run_scenarios
from hub.processes import Process
from sandbox.process import SandboxProcess
from workflows.search_attributes import ALL

ROOT = Path(__file__).resolve().parent.parent


class StackSettings(BaseSettings):
    """Ports and places of the embedded stack; ``HUB_STACK_UI_PORT=9233 make run`` and so on."""

    model_config = SettingsConfigDict(env_prefix="HUB_STACK_")

    host: str = "127.0.0.1"
    temporal_port: int = 7233
    ui_port: int = 8233
    sandbox_port: int = 8100
    smtp_port: int = 2525
    data_dir: Path = ROOT / ".data"
    task_queue: str = "orders"


def start_temporal(settings: StackSettings, log_dir: Path) -> Process:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        temporal_cli(),
        "server",
        "start-dev",
        "--ip",
        settings.host,
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.ui_port),
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--log-level",
        "warn",
    ]
    for key in ALL:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return Process("temporal", command, log_dir)


async def connect_when_ready(address: str, process: Process, timeout_s: float = 60.0) -> Client:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Temporal dev server did not start:\n{process.tail()}") from None
            await asyncio.sleep(0.5)


def worker_env(temporal_address: str, task_queue: str, sandbox: SandboxProcess, timeout_s: float) -> dict[str, str]:
    """A worker's configuration against the sandbox, as an operator gives it: environment variables.

    ``timeout_s`` should be shorter than the sandbox's hold on "timeout after apply" answers, so that those
    really time out.
    """
    timeouts = {f"HUB_{upstream}__TIMEOUT_S": str(timeout_s) for upstream in ("PAYMENT", "CARRIER", "ERP", "EMAIL")}
    return {
        "HUB_TEMPORAL__ADDRESS": temporal_address,
        "HUB_TEMPORAL__TASK_QUEUE": task_queue,
        "HUB_PAYMENT__BASE_URL": sandbox.base_url,
        "HUB_CARRIER__BASE_URL": f"{sandbox.base_url}/v2",
        "HUB_ERP__BASE_URL": f"{sandbox.base_url}/erp",
        "HUB_EMAIL__HOST": sandbox.host,
        "HUB_EMAIL__PORT": str(sandbox.smtp_port),
        "HUB_LOG_FORMAT": "json",
        **timeouts,
    }


@contextlib.contextmanager
def stack(settings: StackSettings) -> Iterator[tuple[Process, SandboxProcess, Process]]:
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    temporal = start_temporal(settings, log_dir)
    sandbox = SandboxProcess(log_path=log_dir / "sandbox.log")
    worker: Process | None = None
    try:
        sandbox.start(settings.host, settings.sandbox_port, settings.smtp_port, transit_seconds=1, hang_seconds=3)
        address = f"{settings.host}:{settings.temporal_port}"
        worker = Process.worker(log_dir, worker_env(address, settings.task_queue, sandbox, timeout_s=2))
        yield temporal, sandbox, worker
    finally:
        if worker is not None:
            worker.stop()
        sandbox.stop()
        temporal.stop()


async def main(mode: str) -> int:
    settings = StackSettings()
    with stack(settings) as (temporal, sandbox, worker):
        client = await connect_when_ready(f"{settings.host}:{settings.temporal_port}", temporal)
        print(
            f"Temporal dev server {settings.host}:{settings.temporal_port}, Web UI http://localhost:{settings.ui_port}"
        )
        print(f"Sandbox {sandbox.base_url}, SMTP sink {settings.host}:{sandbox.smtp_port}")
        print(f"Logs in {worker.log_path.parent}")
        results = await run_scenarios(client, sandbox.base_url, settings.task_queue)
        ok = print_summary(results, sandbox.base_url, settings.ui_port)
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
