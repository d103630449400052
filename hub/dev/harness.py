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
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from domain.order_view import OrderPolicy
from hub.client import OrderClient
from hub.dev.access import DemoAccess, demo_access
from hub.dev.processes import Process
from hub.dev.stack import (
    api_settings,
    sandbox_settings,
    temporal_command,
    wait_until_up,
    webhook_targets,
)
from hub.runtime.settings import OrderSettings, Settings, to_env
from hub.runtime.temporal import connect_temporal
from sandbox.client import SandboxControl
from sandbox.process import PortTaken, SandboxProcess, free_port, on_fresh_ports_async, port_taken

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
        self._server = DevServer(self.log_dir, data_dir / "temporal.db", pragmas=SQLITE_PRAGMAS)
        self.temporal_port = 0
        self.temporal_address = ""
        """Where the dev server listens (filled in on entry)."""
        self.api_url = ""
        self.access: DemoAccess = demo_access()
        self.sandbox = SandboxProcess(log_path=self.log_dir / "sandbox.log")
        self._worker_count = workers
        self._sandbox_options = sandbox or {}
        self._order_settings = orders or OrderSettings(tracking_poll_interval=timedelta(minutes=10))
        self._upstream_timeout_s = upstream_timeout_s
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
        self._server.stop()

    async def _start(self) -> None:
        self._server.launch()
        self.sandbox.start(HOST, None, None, log_level="warning", **self._sandbox_options)  # while the server starts
        await self._server.up(timeout_s=60)
        self.temporal_port, self.temporal_address = self._server.port, self._server.address
        hub = sandbox_settings(
            self.sandbox,
            temporal_address=self.temporal_address,
            task_queue=self.task_queue,
            timeout_s=self._upstream_timeout_s,
        )
        self.settings = hub.model_copy(update={"orders": self._order_settings})
        self._client = await connect_temporal(self.settings)
        self._workers = [self._spawn_worker(i) for i in range(self._worker_count)]

        def api_env(port: int) -> dict[str, str]:
            return {**to_env(api_settings(self.settings, self.access, HOST, port)), **self.python_env()}

        self._api, self.api_url = await start_api(self.log_dir, api_env, timeout_s=90)
        async with SandboxControl(self.sandbox.base_url) as control:
            # The sandbox pushes its events to the API, as the real upstreams would.
            await control.set_webhooks(**webhook_targets(self.api_url, self.access.secrets))

    def _spawn_worker(self, index: int) -> Process:
        return Process.worker(self.log_dir, {**to_env(self.settings), **self.python_env()}, name=f"worker-{index}")

    def python_env(self) -> dict[str, str]:
        """Environment for the Python processes the harness (or its user) starts: with bytecode caching on, as in
        the production image (``pip install .`` compiles), even where the caller's environment turns it off.
        Temporal's workflow sandbox re-imports, for every workflow run, whatever modules are not passed through
        (``hub/runtime/sandbox.py``); without a bytecode cache each would be compiled from source again (measured
        when the workflows were still re-imported: a seventh of a worker's CPU). The cache lives in the data dir,
        out of the source tree."""
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
        self._server.stop()
        self._server.launch(same_ports=True)
        await self._server.up(timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:  # the port opens a moment before the frontend serves the namespace
            try:
                await self.client.workflow_service.get_system_info(GetSystemInfoRequest())
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


class DevServer:
    """``temporal server start-dev`` without its Web UI, on free ports, its output in ``log_dir/temporal.log``:
    the harness's server, and the test suite's. ``db_file`` None keeps everything in memory; ``pragmas`` are
    SQLite pragmas for the file."""

    def __init__(self, log_dir: Path, db_file: Path | None, *, pragmas: Sequence[str] = ()) -> None:
        self.port = 0
        self._log_dir = log_dir
        self._db_file = db_file
        self._pragmas = [flag for pragma in pragmas for flag in ("--sqlite-pragma", pragma)]
        self._other_ports: tuple[int, int] = (0, 0)
        self._process: Process | None = None
        self._picked = True

    @property
    def address(self) -> str:
        """``host:port`` of the frontend (gRPC)."""
        return f"{HOST}:{self.port}"

    def launch(self, *, same_ports: bool = False) -> None:
        """Start the server, on the ports it had before if ``same_ports`` (a restart: clients know them), else on
        free ones; :meth:`up` waits for it."""
        self._picked = not same_ports
        if not same_ports:
            self.port, self._other_ports = free_port(), (free_port(), free_port())
        http, metrics = self._other_ports
        extra = ["--http-port", str(http), "--metrics-port", str(metrics), *self._pragmas]
        self._process = Process(
            "temporal", temporal_command(HOST, self.port, self._db_file, extra=extra), self._log_dir
        )

    async def up(self, *, timeout_s: float = 60.0) -> None:
        """Return once the launched server answers on its port. If it exited because a port picked for it was
        taken before it could bind it, start it again on fresh ports (not on a restart's: clients know those)."""

        async def attempt() -> None:
            if self._process is None:
                self.launch()
            try:
                await _wait_for_port(HOST, self.port, self._process, timeout_s=timeout_s)
            except BaseException:
                self.stop()
                raise

        await on_fresh_ports_async(attempt, attempts=5 if self._picked else 1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL (see :meth:`Process.stop`); a stopped server may be launched again."""
        if self._process is not None:
            self._process.stop()
            self._process = None


async def start_api(
    log_dir: Path, env: Callable[[int], dict[str, str]], *, timeout_s: float = 90.0
) -> tuple[Process, str]:
    """``python -m api`` configured by ``env(port)`` on a free port, once its ``/readyz`` answers; started again on
    a fresh port if the one picked was taken before the API could bind it. Returns the process and its URL."""

    async def attempt() -> tuple[Process, str]:
        port = free_port()
        url = f"http://{HOST}:{port}"
        api = Process("api", [sys.executable, "-m", "api"], log_dir, env(port))
        try:
            await wait_until_up(f"{url}/readyz", api, timeout_s=timeout_s)
        except RuntimeError as failed:
            api.stop()
            if port_taken(api.tail()):
                raise PortTaken(str(failed)) from failed
            raise
        except BaseException:
            api.stop()
            raise
        return api, url

    return await on_fresh_ports_async(attempt)


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
            output = process.tail()
            raise (PortTaken if port_taken(output) else RuntimeError)(f"{process.name} exited:\n{output}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on {host}:{port} after {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


async def stoppable(running: Coroutine[Any, Any, T]) -> T:
    """``running``, cancelled by SIGTERM as by Ctrl-C, so that a harness inside it stops its processes either way
    (a killed driver would leave the server, the sandbox, the API and the workers behind)."""
    task = asyncio.ensure_future(running)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task
