"""Run the sandbox as a child process (tests, the stack runner) and wait until it answers.

A separate process keeps the sandbox's event loop and the client's apart, exactly as in production, and lets
a hanging response or a crash stay out of the test process.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

# The directory holding the ``sandbox`` package, so ``python -m sandbox`` works from any working directory.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
        ``transit_seconds=1``, ``default_stock=10``, ``log_level="warning"``). Ports default to free ones.
        Raises ``RuntimeError`` with the sandbox's output if it exits or is not healthy within ``timeout``.
        """
        if self._process is not None:
            raise RuntimeError("sandbox already started")
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
        return self

    def _wait_healthy(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                output = self.output()
                self.stop()
                raise RuntimeError(f"sandbox exited with code {code}:\n{output}")
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
