"""``make chaos``: hundreds of orders of every kind while workers are SIGKILLed every few seconds, every upstream
fails transiently or times out after succeeding, and the Temporal server restarts once; then every order's books,
stock, labels and messages are checked against the sandbox's records. Exit 0 only with zero violations.

    python -m hub.verify.chaos                      # the full run: 200 orders, a kill every 6 s, one server restart
    python -m hub.verify.chaos --orders 40 --kills 2  # a short one

Prints a progress line every few seconds, one line per violation, and a final JSON line (orders per ending,
kills, restarts, faults injected, violations, wall time).
"""

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from hub.dev.harness import Harness, stoppable
from hub.verify.chaos.checks import Records, check, tally
from hub.verify.chaos.config import ChaosConfig
from hub.verify.chaos.workload import SOLD_OUT_SKU, Customer, Story, fault_rules, plan, policies

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Report:
    orders: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    server_restarts: int = 0
    open_at_restart: int = 0
    """Orders still running when the server went down: the restart happened mid-run."""
    restart_s: float = 0.0
    """How long the server was away (stopped, started, answering again)."""
    faults: dict[str, int] = field(default_factory=dict)
    webhooks: dict[str, dict[str, int]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Legitimate races, per order (a cancellation too late, a return after its window)."""
    failed_queries: list[str] = field(default_factory=list)
    """Queries a worker could not answer (retried until another answer came): not violations, but each one
    names a workflow whose history a replaying worker rejects, which a stuck order would follow from."""
    wall_s: float = 0.0
    data_dir: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations


class Chaos:
    """Kills a worker every few seconds (and starts another in its place) and restarts the server once."""

    def __init__(self, harness: Harness, config: ChaosConfig, report: Report, stories: list["asyncio.Task[Story]"]):
        self._harness = harness
        self._config = config
        self._report = report
        self._stories = stories

    async def run(self, started: float) -> None:
        config = self._config
        next_kill = started + config.kill_every_s
        restart_at = started + config.restart_after_s
        while True:
            now = time.monotonic()
            kills_left = config.max_kills is None or self._report.kills < config.max_kills
            due = [
                t for t, pending in ((next_kill, kills_left), (restart_at, not self._report.server_restarts)) if pending
            ]
            if not due:
                return
            await asyncio.sleep(max(0.0, min(due) - now))
            if not self._report.server_restarts and time.monotonic() >= restart_at:
                self._report.open_at_restart = sum(not task.done() for task in self._stories)
                down = time.monotonic()
                await self._harness.restart_temporal()
                self._report.server_restarts += 1
                self._report.restart_s = round(time.monotonic() - down, 1)
                print(
                    f"chaos: Temporal server restarted in {self._report.restart_s} s "
                    f"with {self._report.open_at_restart} orders open",
                    flush=True,
                )
            if kills_left and time.monotonic() >= next_kill:
                index = self._report.kills % self._harness.worker_count
                self._harness.kill_worker(index)  # SIGKILL: in-flight activities are lost, the others take over
                self._harness.start_worker(index)
                self._report.kills += 1
                next_kill = time.monotonic() + config.kill_every_s


async def run(config: ChaosConfig, data_dir: Path) -> Report:
    report = Report(data_dir=str(data_dir))
    run_id = config.run_id or time.strftime("X%H%M%S")
    base, returning = policies(return_window=timedelta(seconds=config.return_window_s))
    began = time.monotonic()
    async with Harness(
        data_dir,
        workers=config.workers,
        sandbox={"transit_seconds": config.transit_seconds, "hang_seconds": config.hang_seconds},
        upstream_timeout_s=config.upstream_timeout_s,
    ) as harness:
        print(f"chaos: stack up in {time.monotonic() - began:.0f} s (logs in {harness.log_dir})", flush=True)
        async with (
            harness.control() as control,
            httpx.AsyncClient(headers={"Authorization": "Bearer chaos-warehouse"}, timeout=30) as http,
        ):
            rules = fault_rules(
                run_id,
                error_rate=config.error_rate,
                timeout_rate=config.timeout_rate,
                faults_per_request=config.faults_per_request,
            )
            await control.set_faults(rules, seed=config.seed)
            await control.set_stock(SOLD_OUT_SKU, 0)
            started = time.monotonic()
            customer = Customer(
                orders=harness.orders(base),
                returning=harness.orders(returning),
                sandbox_url=harness.sandbox.base_url,
                deadline=started + config.deadline_s,
                http=http,
            )
            planned = plan(run_id, config.orders)
            stories: list[asyncio.Task[Story]] = []
            chaos = asyncio.create_task(Chaos(harness, config, report, stories).run(started))
            progress = asyncio.create_task(_progress(stories, report, started, len(planned)))
            try:
                gap = config.place_over_s / max(1, len(planned))
                for n, (kind, order) in enumerate(planned):
                    await asyncio.sleep(max(0.0, started + n * gap - time.monotonic()))
                    stories.append(asyncio.create_task(customer.play(kind, order)))
                done = list(await asyncio.gather(*stories))
            finally:
                chaos.cancel()
                progress.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await chaos
            report.faults = await control.fault_stats()
            report.webhooks = await control.webhook_stats()
            report.orders = len(done)
            report.outcomes = tally(done)
            for story in done:
                report.notes += [f"{story.order.order_id}: {note}" for note in story.notes]
                report.failed_queries += [
                    f"{story.order.order_id}: {failed}" for failed in sorted(set(story.failed_queries))
                ]
                records = Records(await control.ledger(story.order.order_id), await control.mail(story.order.order_id))
                report.violations += check(story, records)
    report.violations += _chaos_violations(config, report)
    report.wall_s = round(time.monotonic() - began, 1)
    return report


def _chaos_violations(config: ChaosConfig, report: Report) -> list[str]:
    """The run itself must have been chaotic, or its zero violations prove nothing."""
    found = []
    if report.server_restarts != 1:
        found.append(f"run: the server restarted {report.server_restarts} times, expected once")
    elif not report.open_at_restart:
        found.append("run: no order was open when the server restarted")
    if report.kills < (config.max_kills or 1):
        found.append(f"run: only {report.kills} worker kills")
    if config.error_rate and not report.faults.get("transient"):
        found.append("run: no transient fault was injected")
    if config.timeout_rate and not report.faults.get("timeout_after_apply"):
        found.append("run: no timeout after success was injected")
    return found


async def _progress(stories: list["asyncio.Task[Story]"], report: Report, started: float, planned: int) -> None:
    while True:
        await asyncio.sleep(10)
        ended = sum(task.done() for task in stories)
        print(
            f"chaos: {time.monotonic() - started:5.0f} s  placed {len(stories)}/{planned}  ended {ended}  "
            f"kills {report.kills}  server restarts {report.server_restarts}",
            flush=True,
        )


def print_report(report: Report) -> None:
    for failed in report.failed_queries:
        print(f"WARNING query failed (retried): {failed}", flush=True)
    for violation in report.violations:
        print(f"VIOLATION {violation}", flush=True)
    outcomes = ", ".join(f"{n} {ending}" for ending, n in report.outcomes.items())
    verdict = "PASSED" if report.ok else f"FAILED with {len(report.violations)} violations"
    print(f"chaos: {report.orders} orders ({outcomes}); {report.kills} worker kills, {report.server_restarts} server")
    print(f"chaos: restart(s), faults {report.faults}; {report.wall_s} s: {verdict}")
    print(json.dumps({**asdict(report), "ok": report.ok}, sort_keys=True), flush=True)


def quiet_sdk_retries() -> None:
    """The SDK logs every retried call while the server restarts (hundreds of lines, all expected); only its
    errors are worth reading. Must run before the first client connects."""
    filters = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=filters)))
    Runtime.set_default(runtime, error_if_already_set=False)


def run_and_report(config: ChaosConfig, data_dir: Path | None = None) -> int:
    """Run, print the report, and return the exit status: 0 only with zero violations."""
    quiet_sdk_retries()
    where = data_dir or ROOT / ".data" / "chaos" / time.strftime("%Y%m%d-%H%M%S")
    report = asyncio.run(stoppable(run(config, where)))
    print_report(report)
    return 0 if report.ok else 1
