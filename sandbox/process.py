"""Run the sandbox as a child process (tests, the stack runner) and wait until it answers.

A separate process keeps the sandbox's event loop and the client's apart, exactly as in production, and lets
a hanging response or a crash stay out of the test process.
"""

import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

import httpx

T = TypeVar("T")

# The directory holding the ``sandbox`` package, so ``python -m sandbox`` works from any working directory.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Ports are picked from here up to the start of the kernel's ephemeral range: above the well-known and the usual
# development ports (7233, 8000, 8100, 8233…), and out of reach of the source ports of outgoing connections.
_LOWEST_PICKED_PORT = 10_000
_ATTEMPTS = 5


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago.

    It is picked below the kernel's ephemeral range where there is room (on Linux, 10000 to 32767 by default),
    since any outgoing connection may be given a port of that range as its source port, and then nothing can
    listen on it: a port picked there could be taken by a client of the very server it was meant for. Another
    process may still take the port before the one it is meant for binds it: start processes through
    :func:`on_fresh_ports`.
    """
    low = _ephemeral_range_start()
    candidates = range(_LOWEST_PICKED_PORT, low)
    for port in random.sample(candidates, k=min(50, len(candidates))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # no room below the ephemeral range: let the OS choose
        chosen: int = sock.getsockname()[1]
        return chosen


def _ephemeral_range_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _LOWEST_PICKED_PORT  # not Linux: no range to avoid that we know of, so let the OS choose


class PortTaken(RuntimeError):
    """A process could not listen on a port picked for it: something took the port between the pick and the bind."""


def port_taken(output: str) -> bool:
    """Whether a process's output says it could not bind its port (Python, uvicorn and Go all say so this way)."""
    return "address already in use" in output.lower()


def on_fresh_ports(start: Callable[[], T], *, attempts: int = _ATTEMPTS) -> T:
    """``start()``, called again while it raises :class:`PortTaken`, up to ``attempts`` times in all.

    :func:`free_port` can only say that a port *was* free: the process it is given binds it a moment later, and
    anything may take it meanwhile (another test's server, a server another engineer starts). So whatever starts
    a process on picked ports picks them inside ``start``, and raises :class:`PortTaken` when the process exits
    saying so (:func:`port_taken`); each call then runs on fresh ports. Any other failure propagates at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def on_fresh_ports_async(start: Callable[[], Awaitable[T]], *, attempts: int = _ATTEMPTS) -> T:
    """:func:`on_fresh_ports` for a ``start`` that is a coroutine function."""
    for attempt in range(1, attempts + 1):
        try:
            return await start()
        except PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


class SandboxProcess:
    """``python -m sandbox`` as a subprocess, started by :meth:`start` and ended by :meth:`stop`.

    Output goes to a temporary file (or ``log_path``) rather than a pipe: nobody reads a pipe while the
    sandbox runs, and a full pipe would block it.
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.host = "127.0.0.1"
        self.http_port = 0
        self.smtp_port = 0

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the HTTP server (no trailing slash)."""
        return f"http://{self.host}:{self.http_port}"

    def start(
        self,
        host: str = "127.0.0.1",
        http_port: int | None = None,
        smtp_port: int | None = None,
        *,
        timeout: float = 20.0,
        **options: float | str,
    ) -> Self:
        """Start the sandbox and return once ``/_sandbox/health`` answers.

        ``options`` are the other command-line options in snake case (``seed=7``, ``hang_seconds=2``,
        ``transit_seconds=1``, ``default_stock=10``, ``log_level="warning"``). Ports default to free ones, picked
        again if one is taken before the sandbox binds it (:func:`on_fresh_ports`). Raises ``RuntimeError`` with the
        sandbox's output if it exits or is not healthy within ``timeout``.
        """
        if self._process is not None:
            raise RuntimeError("sandbox already started")
        picked = http_port is None or smtp_port is None
        on_fresh_ports(
            lambda: self._start(host, http_port, smtp_port, timeout, options), attempts=_ATTEMPTS if picked else 1
        )
        return self

    def _start(
        self, host: str, http_port: int | None, smtp_port: int | None, timeout: float, options: dict[str, float | str]
    ) -> None:
        self.host = host
        self.http_port = http_port or free_port()
        self.smtp_port = smtp_port or free_port()
        command = [
            sys.executable,
            "-m",
            "sandbox",
            f"--host={host}",
            f"--http-port={self.http_port}",
            f"--smtp-port={self.smtp_port}",
        ] + [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("wb")
        else:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process, closed by stop()
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                output = self.output()
                self.stop()
                failure = PortTaken if port_taken(output) else RuntimeError
                raise failure(f"sandbox exited with code {code}:\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/_sandbox/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        output = self.output()
        self.stop()
        raise RuntimeError(f"sandbox not healthy at {self.base_url} after {timeout:.0f}s:\n{output}")

    def output(self) -> str:
        """What the sandbox has written to stdout/stderr so far."""
        if self._log is None:
            return ""
        if self._log_path is not None:
            self._log.flush()
            return self._log_path.read_text(errors="replace")
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the sandbox (SIGTERM), then kill it if it has not exited within ``timeout``."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
