"""Waiting for the local stack's processes to come up, saying what for and for how long, and on failure showing
the end of the log of the process that failed: a newcomer's ``make run`` is never silent for long."""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from hub.dev.processes import Process


class StackFailed(Exception):
    """A process of the stack did not come up; ``str()`` says which and ends with the tail of its log."""


def say(line: str) -> None:
    print(line, flush=True)  # flushed: whoever reads a pipe (a test, a log collector) sees each step as it happens


def shown(path: Path) -> str:
    """``path`` as the person who ran ``make run`` would type it: relative to where they are, when inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


async def wait_for(
    what: str,
    ready: Callable[[], Awaitable[bool]],
    processes: Sequence[Process],
    timeout_s: float,
    *,
    every_s: float = 5.0,
) -> None:
    """Poll ``ready`` until it holds, saying every ``every_s`` seconds how long it has been waiting for ``what``.

    Raises :class:`StackFailed` with the tail of the log of a process that exited meanwhile, or after ``timeout_s``
    with the tail of each of ``processes``."""
    say(f"waiting for {what} …")
    started = time.monotonic()
    told = 0
    while not await ready():
        exited = [process for process in processes if process.popen.poll() is not None]
        if exited:
            raise StackFailed("\n".join(_failed(process, f"exited ({process.popen.returncode})") for process in exited))
        waited = time.monotonic() - started
        if waited > timeout_s:
            reason = f"{what}: not there after {timeout_s:.0f} s"
            raise StackFailed(reason + "\n" + "\n".join(_failed(process, "still running") for process in processes))
        if waited >= (told + 1) * every_s:
            told = int(waited // every_s)
            say(f"waiting for {what} … {told * every_s:.0f} s")
        await asyncio.sleep(0.2)


def _failed(process: Process, state: str) -> str:
    return f"{process.name} {state}; the end of {shown(process.log_path)}:\n{process.tail()}"


def port_open(host: str, port: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        writer.close()
        return True

    return check
