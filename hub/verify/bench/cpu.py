"""CPU time used by this process and its children, by role: where a measured window's time went.

Read from ``/proc`` (Linux); elsewhere the figures are empty rather than wrong.
"""

import os
from pathlib import Path

_ROLES = (
    ("hub.verify.bench.reference", "reference worker"),
    ("worker.py", "hub worker"),
    ("-m\0sandbox", "sandbox"),
    ("-m\0api", "api"),
    ("temporal\0server", "temporal server"),
)


def _ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _role(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return None
    return next((role for marker, role in _ROLES if marker in cmdline), None)


def _cpu_s(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces, hence the split on the last ')'): utime is the
    # 14th field of the line, stime the 15th.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _ticks()


def cpu_by_role() -> dict[str, float]:
    """CPU seconds so far of the bench driver (this process) and of each role among its direct children."""
    used: dict[str, float] = {}
    times = os.times()
    used["bench driver"] = times.user + times.system
    for child in _children(os.getpid()):
        role = _role(child)
        seconds = _cpu_s(child)
        if role is not None and seconds is not None:
            used[role] = used.get(role, 0.0) + seconds
    return used


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per role used between two readings (a process started in between counts from zero)."""
    return {role: round(after[role] - before.get(role, 0.0), 2) for role in sorted(after)}
