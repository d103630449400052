"""The benchmark run: a fresh stack (``hub.dev.harness``), orders driven at a fixed concurrency and, in the same
run, on the same server, at the same concurrency, the reference workflow (``hub.verify.bench.reference``); then a few
orders of each path (happy, declined, compensated, return) whose histories are counted for their cost.

Throughput is completed workflows over the wall time of the measured windows (first start to last result);
latency is per order, from the call that places it to its workflow's result. A short warm-up on both sides
comes first so neither pays for imports and first connections in its window. Delivery is by the sandbox
carrier's webhooks through the API, as in production: ``transit_seconds`` is short so that a parcel's scans
come soon after it ships, and the order policy's return window is 0 so that a delivered order completes.
"""

import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import Client

from domain.order import Order
from domain.order_view import OrderPolicy
from domain.returns import ReturnPolicy, ReturnReceipt, ReturnRequest, ReturnStatus
from domain.status import OrderStatus, PaymentStatus
from hub.client import OrderClient
from hub.dev.harness import Harness
from hub.dev.processes import Process
from hub.runtime.settings import OrderSettings
from hub.verify.bench import report
from hub.verify.bench.config import BenchConfig
from hub.verify.bench.cpu import cpu_between, cpu_by_role
from hub.verify.bench.histories import Cost, workflow_cost
from hub.verify.bench.reference import WORKFLOW as REFERENCE_WORKFLOW

REFERENCE_QUEUE = "reference"
COMPENSATED_PREFIX = "capture-refused"
"""Orders whose ids start with this have their capture refused by a sandbox fault rule."""


@dataclass
class Window:
    """One measured window: per-workflow latencies, wall time and the CPU each process used meanwhile."""

    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _order(order_id: str, payment_method: str = "pm_card_visa") -> Order:
    """A two-line order; made-up customer data (no real person) on ``example.com``."""
    return Order.model_validate(
        {
            "order_id": order_id,
            "customer": {"id": "C-BENCH", "email": "bench@example.com", "name": "Bench Customer", "locale": "en-GB"},
            "currency": "EUR",
            "lines": [
                {"sku": "PEN-01", "quantity": 1, "unit_price": 12900},
                {"sku": "INK-07", "quantity": 2, "unit_price": 450},
            ],
            "shipping_address": {"line1": "1 Test Street", "city": "Paris", "postal_code": "75011", "country": "FR"},
            "payment_method": payment_method,
        }
    )


TRACKING_POLL = timedelta(seconds=10)
"""Delivery comes by the carrier's webhook, within about two seconds here; the poll is only the fallback, as in
production (where it is hours). It is short enough that an order whose delivery scan was lost finishes as it would
in production, by the poll, showing as a slow order in the tail latencies rather than hanging the run. (The
sandbox's tracker advances from the label's purchase, so under load a parcel can be "delivered" before the saga has
captured and committed; at the time of writing the order workflow then misses that scan.)"""


def _policy(return_window: timedelta = timedelta(0)) -> OrderPolicy:
    return OrderPolicy(tracking_poll_interval=TRACKING_POLL, returns=ReturnPolicy(window=return_window))


Tick = Callable[[], None]
"""Called once per finished workflow (the progress bar)."""


def _no_tick() -> None:
    pass


async def _drive(count: int, concurrency: int, one: Callable[[int], Awaitable[None]], tick: Tick) -> Window:
    """Run ``one(n)`` for n in 0..count-1 with at most ``concurrency`` in flight; time each and the whole."""
    window = Window()
    next_index = 0

    async def lane() -> None:
        nonlocal next_index
        while next_index < count:
            n = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                await one(n)
                window.latencies_s.append(time.perf_counter() - started)
            except Exception as error:  # reported in the figures, not fatal: one lost order must not void a run
                window.failures.append(f"{n}: {type(error).__name__}: {error}")
            tick()

    before = cpu_by_role()
    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    window.wall_s = time.perf_counter() - started
    window.cpu_s = cpu_between(before, cpu_by_role())
    return window


def _merged(windows: list[Window]) -> Window:
    """Several measured windows as one: latencies pooled, wall and CPU time summed."""
    merged = Window()
    for window in windows:
        merged.latencies_s += window.latencies_s
        merged.wall_s += window.wall_s
        merged.failures += window.failures
        for role, seconds in window.cpu_s.items():
            merged.cpu_s[role] = round(merged.cpu_s.get(role, 0.0) + seconds, 2)
    return merged


async def _hub_window(
    orders: OrderClient, tag: str, count: int, concurrency: int, tick: Tick, timeout_s: float = 60.0
) -> tuple[Window, list[str]]:
    ids = [f"{tag}-{n}" for n in range(count)]

    async def one(n: int) -> None:
        placed = await orders.place(_order(ids[n]))
        try:
            view = await asyncio.wait_for(placed.handle.result(), timeout_s)
        except TimeoutError:
            raise TimeoutError(f"order {ids[n]} not finished after {timeout_s:.0f} s") from None
        if view.status is not OrderStatus.COMPLETED:
            raise RuntimeError(f"ended {view.status.value}")

    return await _drive(count, concurrency, one, tick), ids


async def _reference_window(
    client: Client,
    tag: str,
    count: int,
    concurrency: int,
    steps: int,
    tick: Tick,
    timeout_s: float = 60.0,
    *,
    local: bool = False,
) -> Window:
    async def one(n: int) -> None:
        handle = await client.start_workflow(
            REFERENCE_WORKFLOW, args=[steps, local], id=f"ref:{tag}-{n}", task_queue=REFERENCE_QUEUE
        )
        await asyncio.wait_for(handle.result(), timeout_s)

    return await _drive(count, concurrency, one, tick)


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


async def _declined(orders: OrderClient, client: Client, order_id: str) -> Cost:
    await (await orders.place(_order(order_id, payment_method="pm_card_chargeDeclined"))).handle.result()
    return await workflow_cost(client, f"order:{order_id}")


async def _compensated(orders: OrderClient, client: Client, order_id: str) -> Cost:
    view = await (await orders.place(_order(order_id))).handle.result()
    if view.status is not OrderStatus.CANCELED:
        raise RuntimeError(f"compensated path ended {view.status.value}")
    return await workflow_cost(client, f"order:{order_id}")


async def _returned(orders: OrderClient, client: Client, order_id: str) -> Cost:
    """Deliver, return one line, receive it, wait until the RMA has ended and the order knows; both histories."""
    placed = await orders.place(_order(order_id))
    try:

        async def delivered() -> bool:
            return (await orders.view(order_id)).delivered_at is not None

        await _until(delivered)
        rma_id = f"R{order_id}"
        request = ReturnRequest.model_validate({"rma_id": rma_id, "lines": [{"sku": "PEN-01", "quantity": 1}]})
        await orders.open_return(order_id, request)

        async def labelled() -> bool:
            return (await orders.return_view(rma_id)).status is not ReturnStatus.REQUESTED

        await _until(labelled)
        await orders.record_receipt(rma_id, ReturnReceipt(received_via="store"))

        async def settled() -> bool:
            refunded = (await orders.view(order_id)).payment_status is PaymentStatus.PARTIALLY_REFUNDED
            closed = (await orders.return_handle(rma_id).describe()).close_time is not None
            return refunded and closed

        await _until(settled)
        return await workflow_cost(client, f"order:{order_id}") + await workflow_cost(client, f"return:{rma_id}")
    finally:
        # The order would otherwise wait out its return window; ending it adds no billed action to what was counted.
        with contextlib.suppress(Exception):
            await placed.handle.terminate("benchmark over")


async def _path_costs(
    harness: Harness, tag: str, samples: int, happy_ids: list[str], tick: Tick
) -> dict[str, list[Cost]]:
    client = harness.client
    plain = harness.orders(_policy())
    returning = harness.orders(_policy(return_window=timedelta(hours=1)))
    async with harness.control() as control:
        await control.set_faults(
            [
                {
                    "upstream": "payment",
                    "operation": "capture",
                    "order_prefix": f"{COMPENSATED_PREFIX}-{tag}",
                    "reject": {"code": "charge_expired_for_capture", "message": "authorization expired"},
                }
            ]
        )

    async def counted(cost: Awaitable[Cost]) -> Cost:
        result = await cost
        tick()
        return result

    happy = [counted(workflow_cost(client, f"order:{order_id}")) for order_id in happy_ids[:samples]]
    declined = [counted(_declined(plain, client, f"declined-{tag}-{n}")) for n in range(samples)]
    compensated = [counted(_compensated(plain, client, f"{COMPENSATED_PREFIX}-{tag}-{n}")) for n in range(samples)]
    returned = [counted(_returned(returning, client, f"return-{tag}-{n}")) for n in range(samples)]
    # Each of these waits for workflows to end: bounded, so that a lost event fails the run instead of hanging it.
    results = await asyncio.wait_for(asyncio.gather(*happy, *declined, *compensated, *returned), 180)
    return {path: list(results[i * samples : (i + 1) * samples]) for i, path in enumerate(report.PATHS)}


def _machine(load_average: float | None) -> dict[str, Any]:
    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "load_average": load_average,
    }


def _start_reference_workers(harness: Harness, count: int) -> list[Process]:
    command = [sys.executable, "-m", "hub.verify.bench.reference", "--address", harness.temporal_address]
    env = harness.python_env()  # bytecode caching as for the hub's workers: the same conditions on both sides
    return [
        Process(f"reference-{i}", [*command, "--task-queue", REFERENCE_QUEUE], harness.log_dir, env)
        for i in range(count)
    ]


async def run(config: BenchConfig) -> dict[str, Any]:
    """Run the benchmark and return its figures (the JSON object)."""
    stack_dir = config.out_dir / "stack"
    # Other work on the machine shares its CPUs with every process measured here: recorded with the figures.
    load_average = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    shutil.rmtree(stack_dir, ignore_errors=True)  # a fresh SQLite file: earlier runs' histories would weigh on it
    tag = datetime.now(UTC).strftime("B%H%M%S")
    console = Console(stderr=True)  # stdout carries only the JSON line
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=console, disable=not config.progress)

    def bar(label: str, total: int) -> Tick:
        task = progress.add_task(label, total=total)
        return lambda: progress.advance(task)

    harness = Harness(
        stack_dir,
        workers=config.workers,
        sandbox={"transit_seconds": config.transit_seconds, "hang_seconds": 2.0},
        orders=OrderSettings(tracking_poll_interval=TRACKING_POLL),
    )
    if config.progress:
        console.log(f"starting the stack in {stack_dir}")
    with progress:
        async with harness:
            reference_workers = _start_reference_workers(harness, config.workers) if config.reference else []
            try:
                hub, reference, reference_local, happy_ids, steps = await _measure(harness, config, tag, bar)
                costs = await _path_costs(
                    harness, tag, config.path_samples, happy_ids, bar("cost per path", 4 * config.path_samples)
                )
                memory = harness.worker_memory_mb()
            finally:
                for worker in reference_workers:
                    worker.stop()
    figures = _figures(config, hub, reference, reference_local, steps, costs, memory, load_average)
    write_results(config, figures)
    return figures


async def _measure(
    harness: Harness, config: BenchConfig, tag: str, bar: Callable[[str, int], Tick]
) -> tuple[Window, Window, Window, list[str], int]:
    """The hub's and the reference's windows, in the order hub, reference, reference, hub (half the workflows
    each time): whatever drifts during the run (the SQLite file grows, the server's background work) then
    weighs on both sides alike. Then the reference once more with local activities (a secondary figure).
    Returns the three windows, the measured orders' ids and the reference's step count."""
    orders = harness.orders(_policy())
    client = harness.client
    concurrency, first, second = config.concurrency, config.orders // 2, config.orders - config.orders // 2
    timeout = config.workflow_timeout_s
    if config.warmup:
        await _hub_window(orders, f"warm-{tag}", config.warmup, concurrency, bar("warm-up", config.warmup))
    hub_tick = bar("hub orders", config.orders)
    if not config.reference:
        hub, ids = await _hub_window(orders, tag, config.orders, concurrency, hub_tick, timeout)
        return hub, Window(), Window(), ids, 0
    hub_a, ids_a = (
        await _hub_window(orders, f"{tag}a", first, concurrency, hub_tick, timeout) if first else (Window(), [])
    )
    # As many no-op activities as a happy order runs: counted, so the yardstick follows the workflow's changes.
    sample = ids_a[0] if ids_a else None
    ref_tick = bar("reference", config.orders)
    if config.warmup:
        await _reference_window(client, f"warm-{tag}", config.warmup, concurrency, 1, _no_tick)
    hub_b: Window | None = None
    if sample is None:  # a single order: the hub's half comes first so that there is a history to count
        hub_b, ids_b = await _hub_window(orders, f"{tag}b", second, concurrency, hub_tick, timeout)
        sample = ids_b[0]
    steps = (await workflow_cost(client, f"order:{sample}")).activities
    ref_a = (
        await _reference_window(client, f"{tag}a", first, concurrency, steps, ref_tick, timeout) if first else Window()
    )
    ref_b = await _reference_window(client, f"{tag}b", second, concurrency, steps, ref_tick, timeout)
    if hub_b is None:
        hub_b, ids_b = await _hub_window(orders, f"{tag}b", second, concurrency, hub_tick, timeout)
    local_tick = bar("reference, local", config.orders)
    local = await _reference_window(
        client, f"{tag}l", config.orders, concurrency, steps, local_tick, timeout, local=True
    )
    return _merged([hub_a, hub_b]), _merged([ref_a, ref_b]), local, ids_a + ids_b, steps


def _figures(
    config: BenchConfig,
    hub: Window,
    reference: Window,
    reference_local: Window,
    steps: int,
    costs: dict[str, list[Cost]],
    memory: list[float | None],
    load_average: float | None,
) -> dict[str, Any]:
    orders_per_s = report.rate(len(hub.latencies_s), hub.wall_s)
    reference_per_s = report.rate(len(reference.latencies_s), reference.wall_s)
    local_per_s = report.rate(len(reference_local.latencies_s), reference_local.wall_s)

    def medians(of: Callable[[Cost], float]) -> dict[str, float]:
        return {path: report.median([of(cost) for cost in samples]) for path, samples in costs.items()}

    return {
        "orders_per_s": orders_per_s,
        "reference_per_s": reference_per_s,
        "ratio": round(orders_per_s / reference_per_s, 3) if reference_per_s else None,
        "reference_local_per_s": local_per_s,
        "ratio_to_local": round(orders_per_s / local_per_s, 3) if local_per_s else None,
        "latency_ms": report.latency_summary(hub.latencies_s) if hub.latencies_s else None,
        "reference_latency_ms": report.latency_summary(reference.latencies_s) if reference.latencies_s else None,
        "actions_per_order": medians(lambda cost: cost.actions.total),
        "happy_actions_by_kind": report.median_by_kind([cost.actions.by_kind for cost in costs["happy"]]),
        "history_events_per_order": medians(lambda cost: cost.events),
        "history_bytes_per_order": medians(lambda cost: cost.bytes),
        "reference_activities": steps,
        "worker_memory_mb": [None if mb is None else round(mb, 1) for mb in memory],
        "orders": config.orders,
        "failed_orders": len(hub.failures),
        "failed_reference": len(reference.failures) + len(reference_local.failures),
        "failures": hub.failures[:5] + reference.failures[:5] + reference_local.failures[:5],
        "concurrency": config.concurrency,
        "transit_seconds": config.transit_seconds,
        "workers": config.workers,
        "wall_s": {"hub": round(hub.wall_s, 2), "reference": round(reference.wall_s, 2)},
        "cpu_s": {"hub": hub.cpu_s, "reference": reference.cpu_s},
        **report.core_cpu(
            {"hub": hub.cpu_s, "reference": reference.cpu_s},
            {"hub": len(hub.latencies_s), "reference": len(reference.latencies_s)},
        ),
        "cpu_share_hub_window": {
            role: round(seconds / hub.wall_s, 2) for role, seconds in hub.cpu_s.items() if hub.wall_s
        },
        "machine": _machine(load_average),
        "command": config.command,
    }


NO_CHART = "no chart: matplotlib is not installed (pip install -e '.[bench]'); the figures are in bench.json"


def write_results(config: BenchConfig, figures: dict[str, Any]) -> None:
    """``bench.json`` and the chart in ``out_dir``, and the page with its chart when ``docs`` is set. Without
    matplotlib, everything but the charts, and one line on stderr that says so."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    (config.out_dir / "bench.json").write_text(json.dumps(figures, indent=2) + "\n")
    charted = report.chart(config.out_dir / "bench.png", figures)
    if config.docs is not None:
        report.write_markdown(config.docs, figures, config.command)
        if charted:
            report.chart(config.docs.with_suffix(".png"), figures)
    if not charted:
        print(NO_CHART, file=sys.stderr)  # stdout carries only the JSON line
