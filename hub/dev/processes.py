"""Child processes of the embedded stack and of the tests: output to a log file, stopped politely, then firmly."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """A child process with its output in a log file, stopped politely then firmly."""

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("ab")
        self._log_start = self._log.tell()  # the log may hold an earlier run's lines (a restarted worker)
        self.popen = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=ROOT
        )

    @classmethod
    def worker(cls, log_dir: Path, env: dict[str, str], name: str = "worker") -> "Process":
        """``python worker.py``, the production entry point, configured by environment."""
        return cls(name, [sys.executable, str(ROOT / "worker.py")], log_dir, env)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()

    def output(self) -> str:
        """What this process has written so far (not the earlier runs' lines in the same log)."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` this process wrote (not an earlier run's, in the same log)."""
        return "\n".join(self.output().splitlines()[-lines:])
