"""A whole hub stack in a directory of its own, for measurement runs (``hub bench``) and the chaos run.

    async with Harness(tmp_dir, workers=2, sandbox={"transit_seconds": 0.2}) as stack:
        orders = stack.orders(policy)          # an OrderClient on the stack's task queue
        ...
        stack.kill_worker(0)                   # SIGKILL, as a crash would
        stack.start_worker(0)
        await stack.restart_temporal()         # same port, same SQLite file

Everything runs as in production, each in its own process: the Temporal dev server (SQLite in WAL mode, no Web
UI), the sandbox upstreams, the HTTP API (which receives the sandbox's carrier, payment and ERP webhooks and
turns them into signals) and N ``python worker.py`` processes configured by environment. Ports are free ones,
so several harnesses (and the tests) can run side by side; logs go to ``<data_dir>/logs``.
"""

import asyncio
import signal
import socket
import sys
import time
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from domain.order_view import OrderPolicy
from hub.client import OrderClient
from hub.dev.processes import Process
from hub.dev.stack import (
    DemoAccess,
    api_settings,
    demo_access,
    sandbox_settings,
    temporal_command,
    wait_until_up,
    webhook_targets,
)
from hub.runtime.settings import OrderSettings, Settings, to_env
from hub.runtime.temporal import connect_temporal
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess, free_port

HOST = "127.0.0.1"
T = TypeVar("T")

# WAL lets the server's readers (visibility queries, history reads) proceed while it writes; with the default
# rollback journal every write blocks them, which would measure SQLite's locking rather than the hub (measured:
# the reference workflow at 50 in flight ran at half the speed). ``synchronous=normal`` skips the fsync per commit;
# in WAL mode that loses nothing when a process is killed (the chaos run), only on a power cut.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


class Harness:
    """Temporal, the sandbox, the API and ``workers`` worker processes, started on entry and stopped on exit.

    ``sandbox`` holds :meth:`SandboxProcess.start` options (``transit_seconds``, ``hang_seconds``…);
    ``orders`` the retailer's order settings the workers and API are configured with (the policy an order runs
    under is the one its starter passes, see :meth:`orders`); ``upstream_timeout_s`` the hub's HTTP/SMTP timeout.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        sandbox: dict[str, float] | None = None,
        orders: OrderSettings | None = None,
        task_queue: str = "orders",
        upstream_timeout_s: float = 2.0,
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = data_dir / "logs"
        self.task_queue = task_queue
        self.temporal_port = free_port()
        self.temporal_address = f"{HOST}:{self.temporal_port}"
        self.api_url = ""
        self.access: DemoAccess = demo_access()
        self.sandbox = SandboxProcess(log_path=self.log_dir / "sandbox.log")
        self._worker_count = workers
        self._sandbox_options = sandbox or {}
        self._order_settings = orders or OrderSettings(tracking_poll_interval=timedelta(minutes=10))
        self._upstream_timeout_s = upstream_timeout_s
        self._temporal: Process | None = None
        self._api: Process | None = None
        self._workers: list[Process | None] = []
        self._client: Client | None = None
        self.settings = Settings()
        """The workers' settings (filled in on entry): what ``to_env`` hands each worker process."""

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for worker in self._workers:
            if worker is not None:
                worker.stop()
        self._workers = []
        if self._api is not None:
            self._api.stop()
            self._api = None
        self.sandbox.stop()
        if self._temporal is not None:
            self._temporal.stop()
            self._temporal = None

    async def _start(self) -> None:
        self._start_temporal()
        self.sandbox.start(HOST, None, None, log_level="warning", **self._sandbox_options)
        hub = sandbox_settings(
            self.sandbox,
            temporal_address=self.temporal_address,
            task_queue=self.task_queue,
            timeout_s=self._upstream_timeout_s,
        )
        self.settings = hub.model_copy(update={"orders": self._order_settings})
        api_port = free_port()
        self.api_url = f"http://{HOST}:{api_port}"
        api_env = {**to_env(api_settings(self.settings, self.access, HOST, api_port)), **self.python_env()}
        self._api = Process("api", [sys.executable, "-m", "api"], self.log_dir, api_env)
        await _wait_for_port(HOST, self.temporal_port, self._temporal, timeout_s=60)
        self._client = await connect_temporal(self.settings)
        self._workers = [self._spawn_worker(i) for i in range(self._worker_count)]
        await wait_until_up(f"{self.api_url}/readyz", self._api, timeout_s=90)
        async with SandboxControl(self.sandbox.base_url) as control:
            # The sandbox pushes its events to the API, as the real upstreams would.
            await control.set_webhooks(**webhook_targets(self.api_url, self.access.secrets))

    def _start_temporal(self) -> None:
        pragmas = [flag for pragma in SQLITE_PRAGMAS for flag in ("--sqlite-pragma", pragma)]
        extra = ["--http-port", str(free_port()), "--metrics-port", str(free_port()), *pragmas]
        command = temporal_command(HOST, self.temporal_port, self.data_dir / "temporal.db", extra=extra)
        self._temporal = Process("temporal", command, self.log_dir)

    def _spawn_worker(self, index: int) -> Process:
        return Process.worker(self.log_dir, {**to_env(self.settings), **self.python_env()}, name=f"worker-{index}")

    def python_env(self) -> dict[str, str]:
        """Environment for the Python processes the harness (or its user) starts: with bytecode caching on, as in
        the production image (``pip install .`` compiles), even where the caller's environment turns it off.
        Temporal's workflow sandbox re-imports the workflow modules for every workflow run; without a bytecode
        cache each run would compile ``workflows/order.py`` from source again (measured: a seventh of a
        worker's CPU). The cache lives in the data dir, out of the source tree."""
        return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(self.data_dir / "pycache")}

    # -- what a run uses ------------------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """A Temporal client with the hub's data converter (the one the workers and the API use)."""
        if self._client is None:
            raise RuntimeError("the harness is not running")
        return self._client

    def orders(self, policy: OrderPolicy | None = None) -> OrderClient:
        """The backends' client, placing orders under ``policy`` on the harness's task queue."""
        return OrderClient(self.client, task_queue=self.task_queue, policy=policy)

    def control(self) -> SandboxControl:
        """The sandbox's control API (faults, ledger, mail), to use as ``async with``."""
        return SandboxControl(self.sandbox.base_url)

    # -- workers --------------------------------------------------------------------------------------------

    @property
    def worker_count(self) -> int:
        return len(self._workers)

    def worker_pids(self) -> list[int | None]:
        """Each worker's PID, ``None`` for one that is not running."""
        return [w.popen.pid if w is not None and w.popen.poll() is None else None for w in self._workers]

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index``, as a crash would: no draining, in-flight activities are lost."""
        worker = self._workers[index]
        if worker is not None:
            worker.popen.kill()
            worker.popen.wait()
            worker.stop()  # closes its log file
            self._workers[index] = None

    def start_worker(self, index: int) -> None:
        """(Re)start worker ``index`` (appending to its log); a running one is left alone."""
        worker = self._workers[index]
        if worker is None or worker.popen.poll() is not None:
            self._workers[index] = self._spawn_worker(index)

    def worker_memory_mb(self) -> list[float | None]:
        """Each running worker's peak resident memory (``VmHWM``), in MiB."""
        return [None if pid is None else peak_rss_mb(pid) for pid in self.worker_pids()]

    # -- the server -----------------------------------------------------------------------------------------

    async def restart_temporal(self, *, timeout_s: float = 60.0) -> None:
        """Stop the dev server (SIGTERM, then SIGKILL) and start it again on the same port and SQLite file;
        returns once it answers. Clients and workers reconnect by themselves."""
        if self._temporal is not None:
            self._temporal.stop()
        self._start_temporal()
        await _wait_for_port(HOST, self.temporal_port, self._temporal, timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:  # the port opens a moment before the frontend serves the namespace
            try:
                await self.client.workflow_service.get_system_info(GetSystemInfoRequest())
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident set (``VmHWM``, else ``VmRSS``) in MiB from ``/proc``; None if unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    for name in ("VmHWM", "VmRSS"):
        if name in fields:
            return int(fields[name].split()[0]) / 1024  # reported in kB
    return None


async def _wait_for_port(host: str, port: int, process: Process | None, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on {host}:{port} after {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


async def stoppable(running: Coroutine[Any, Any, T]) -> T:
    """``running``, cancelled by SIGTERM as by Ctrl-C, so that a harness inside it stops its processes either way
    (a killed driver would leave the server, the sandbox, the API and the workers behind)."""
    task = asyncio.ensure_future(running)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task
