"""Running scenarios: many at once on one dev server and one worker over the in-memory fakes (order ids, SKUs and
scripted answers are per order, so they never meet), each waited for until it rests and then checked; a failure
is shrunk by removing events while it still fails (delta debugging).
"""

import asyncio
import contextlib
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.backorder import BackorderChoice, BackorderDecision
from domain.contract import OrderSignal
from domain.events import EventKind, StockEvent, UpstreamEvent
from domain.keys import shipment_reference
from domain.order import Address, Order
from domain.order_view import AddressChange, CancelRequest, OrderPolicy, OrderView
from domain.returns import (
    AfterSalesKind,
    ApprovalDecision,
    ClaimReason,
    ResendLabel,
    Resolution,
    ReturnLineRequest,
    ReturnPolicy,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
)
from domain.shipping import TrackingStatus
from domain.status import OrderStatus
from hub.client import DecisionRefused, OrderClient, ReturnNotFound
from hub.dev.invariants import Family, Violation
from hub.runtime import bootstrap
from hub.runtime.upstreams import Upstreams
from tests.books import order_violations
from tests.fakes import Effects, FakeCarrier, FakeInventory, FakeNotifier, FakePayments, FakePublisher, Outcome
from tests.fuzz.scenario import OPERATIONS, Event, Scenario
from tests.orders import BASE

RETURN_POLICY = ReturnPolicy(
    window=timedelta(seconds=2),
    reminder_after=timedelta(seconds=1),
    expires_after=timedelta(seconds=3),
    claim_approval_limit=10**9,
    replacement_delivery_limit=timedelta(seconds=5),
    approval_deadline=timedelta(seconds=3),
)
POLICY = OrderPolicy(
    tracking_poll_interval=timedelta(milliseconds=400),
    delivery_deadline=timedelta(seconds=20),
    backorder_decision_timeout=timedelta(seconds=1),
    backorder_recheck_interval=timedelta(milliseconds=400),
    backorder_max_wait=timedelta(seconds=3),
    publish_status_events=True,
    returns=RETURN_POLICY,
)
"""Every deadline in milliseconds to seconds: a scenario lives a few seconds, not weeks. The delivery deadline is
the longest: a parcel the fakes deliver (after two polls) must not be taken for a lost one on a loaded machine."""

READ_EVERY_S = 0.5

QUIET_S = 10.0
"""An order waiting for a person (``requires_action``) whose view has not changed this long rests: longer than any
deadline of :data:`POLICY`, so a wait with a deadline is not taken for one without."""
SCENARIO_TIMEOUT_S = 120.0
"""Not at rest by then: reported (liveness). Long next to a scenario's few seconds on a loaded machine."""


@dataclass
class Fakes:
    effects: Effects = field(default_factory=Effects)
    publisher: FakePublisher = field(default_factory=FakePublisher)

    def __post_init__(self) -> None:
        self.payments = FakePayments(self.effects)
        self.inventory = FakeInventory(self.effects)
        self.carrier = FakeCarrier(self.effects)
        self.notifier = FakeNotifier(self.effects)

    def upstreams(self) -> Upstreams:
        return Upstreams(
            payment=self.payments,
            inventory=self.inventory,
            carrier=self.carrier,
            notifier=self.notifier,
            publisher=self.publisher,
        )


@dataclass
class Result:
    """One scenario's run: what it found, and what happened to its events."""

    scenario: Scenario
    order_id: str
    violations: list[Violation]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.violations)


class FuzzHub:
    """One worker over one set of fakes on its own task queue; ``restart()`` replaces the worker (same fakes), as a
    deploy would."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.fakes = Fakes()
        self.task_queue = f"fuzz-{uuid.uuid4().hex[:10]}"
        self._stop: asyncio.Event | None = None
        self._running: asyncio.Task[None] | None = None

    def orders(self, policy: OrderPolicy = POLICY) -> OrderClient:
        return OrderClient(self.client, task_queue=self.task_queue, policy=policy)

    async def _serve(self, started: asyncio.Event, stop: asyncio.Event) -> None:
        async with bootstrap.worker(self.client, self.task_queue, self.fakes.upstreams()):
            started.set()
            await stop.wait()

    async def start(self) -> None:
        started, self._stop = asyncio.Event(), asyncio.Event()
        self._running = asyncio.create_task(self._serve(started, self._stop))
        await started.wait()

    async def stop(self) -> None:
        if self._stop is not None and self._running is not None:
            self._stop.set()
            await self._running

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@contextlib.asynccontextmanager
async def fuzz_hub(client: Client, *, restart_every_s: float | None = None) -> AsyncIterator[FuzzHub]:
    """A running :class:`FuzzHub`; with ``restart_every_s`` its worker is replaced that often while it runs."""
    hub = FuzzHub(client)
    await hub.start()

    async def restarting(every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await hub.restart()

    restarts = asyncio.create_task(restarting(restart_every_s)) if restart_every_s else None
    try:
        yield hub
    finally:
        if restarts is not None:
            restarts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await restarts
        await hub.stop()


# -- one scenario ----------------------------------------------------------------------------------------------------


def _order(order_id: str, scenario: Scenario) -> Order:
    lines = [
        {"sku": f"{order_id}-{n}", "quantity": line.quantity, "unit_price": line.unit_price}
        for n, line in enumerate(scenario.lines)
    ]
    return Order.model_validate({**BASE, "order_id": order_id, "lines": lines})


def _set_up(hub: FuzzHub, order: Order, events: tuple[Event, ...]) -> OrderPolicy:
    """Apply the setup events to the fakes (per order: its SKUs, its calls, its references); the order's policy."""
    fakes, order_id = hub.fakes, order.order_id
    policy = POLICY
    skus = [line.sku for line in order.lines]
    calls: dict[str, list[Outcome]] = {}
    for event in (event for event in events if event.phase == "setup" or event.kind == "claim.approval"):
        kind, target = event.kind, event.target
        if kind == "shortage":
            line = order.lines[target % len(order.lines)]
            fakes.inventory.short[line.sku] = 1 + target % line.quantity
            fakes.inventory.restock[line.sku] = date(2030, 1, 1)
        elif kind == "two_warehouses":
            for n, sku in enumerate(skus):
                fakes.inventory.locations[sku] = f"WH-{1 + (n + target) % 2}"
        elif kind == "claim.approval":
            returns = policy.returns.model_copy(update={"claim_approval_limit": 0})
            policy = policy.model_copy(update={"returns": returns})
        elif kind == "renewal":
            policy = policy.model_copy(update={"authorization_validity": timedelta(milliseconds=300)})
        elif kind.startswith("tracking."):
            statuses = {
                "tracking.lost": [TrackingStatus.IN_TRANSIT],
                "tracking.exception": [TrackingStatus.IN_TRANSIT, TrackingStatus.EXCEPTION, TrackingStatus.DELIVERED],
                "tracking.returned": [TrackingStatus.IN_TRANSIT, TrackingStatus.RETURNING_TO_SENDER],
            }[kind]
            fakes.carrier.tracking[shipment_reference(order_id, 1 + target % 2)] = list(statuses)
        else:
            outcome, operation = kind.split(".", 1)
            script = calls.setdefault(operation, [])
            nth = target % 2  # the first or the second call of that operation answers so
            script += [Outcome.OK] * max(0, nth + 1 - len(script))
            script[nth] = Outcome(outcome)
    for operation, script in calls.items():
        assert operation in OPERATIONS
        fakes.effects.script[(order_id, operation)] = script
    return policy


@dataclass
class _Run:
    hub: FuzzHub
    orders: OrderClient
    order: Order
    rmas: list[str] = field(default_factory=list)
    """RMA ids this scenario opened, in the order of its after-sales events."""
    rma_ids_drawn: int = 0
    """RMA ids handed out so far: each request its own id, even when two are under way at once."""
    pending: dict[str, str] = field(default_factory=dict)
    """Updates sent and not answered yet: task name → what."""
    notes: list[str] = field(default_factory=list)
    latest: OrderView | None = None
    """The view as the rest watch last read it."""

    @property
    def order_id(self) -> str:
        return self.order.order_id

    async def view(self) -> OrderView:
        return await self.orders.view(self.order_id)

    async def update(self, what: str, call: Callable[[], Awaitable[object]]) -> None:
        """An Update: an answer or a refusal is fine; one still pending when the order rests is reported."""
        token = uuid.uuid4().hex
        self.pending[token] = what
        try:
            await call()
            self.notes.append(f"{what}: done")
        except DecisionRefused as refused:
            self.notes.append(f"{what}: refused ({refused})")
        except Exception as error:
            self.notes.append(f"{what}: failed ({type(error).__name__}: {error})")
            self.pending[token] = f"{what} failed with {type(error).__name__}: {error}"
            return
        del self.pending[token]

    async def signal(self, event: UpstreamEvent) -> None:
        if not await self.orders.record_event(event):
            self.notes.append(f"{event.kind.value}: order already ended")

    def _event(self, kind: EventKind, source: str, **fields: object) -> UpstreamEvent:
        return UpstreamEvent.model_validate(
            {
                "event_id": f"{source}:{uuid.uuid4().hex}",
                "source": source,
                "kind": kind,
                "order_id": self.order_id,
                "occurred_at": datetime.now(UTC),
                **fields,
            }
        )

    async def _shipment(self, target: int) -> tuple[str | None, str | None]:
        shipments = (await self.view()).shipments
        if not shipments:
            return None, None
        chosen = shipments[target % len(shipments)]
        return chosen.reference, chosen.tracking_code

    def _rma(self, target: int) -> str | None:
        return self.rmas[target % len(self.rmas)] if self.rmas else None

    async def apply(self, event: Event) -> None:
        kind, target, orders = event.kind, event.target, self.orders
        if kind == "cancel":
            await self.update(kind, lambda: orders.cancel(self.order_id, CancelRequest()))
        elif kind == "address":
            address = Address(line1=f"{target} avenue Foch", city="Lyon", postal_code="69006", country="FR")
            change = AddressChange(shipping_address=address)
            await self.update(kind, lambda: orders.change_shipping_address(self.order_id, change))
        elif kind.startswith("backorder."):
            decision = BackorderDecision(choice=BackorderChoice(kind.split(".", 1)[1]))
            await self.update(kind, lambda: orders.decide_backorder(self.order_id, decision))
        elif kind == "restock":
            for line in self.order.lines:
                self.hub.fakes.inventory.short.pop(line.sku, None)
                stock = StockEvent(
                    event_id=f"erp:{uuid.uuid4().hex}",
                    kind=EventKind.STOCK_RESTOCKED,
                    sku=line.sku,
                    available=100,
                    occurred_at=datetime.now(UTC),
                )
                with contextlib.suppress(Exception):  # an order that has ended takes no signal
                    await orders.handle(self.order_id).signal(OrderSignal.STOCK_CHANGED, stock)
        elif kind.startswith("scan."):
            reference, tracking = await self._shipment(target)
            if kind == "scan.no_reference":
                reference = None
                kind = "scan.delivered"
            elif reference is None:
                self.notes.append(f"{kind}: no shipment yet")
                return
            scan = EventKind(f"shipment.{kind.split('.', 1)[1]}")
            await self.signal(self._event(scan, "carrier", shipment_reference=reference, tracking_code=tracking))
        elif kind in ("return", "return.store", "exchange", "claim", "claim.replace", "claim.approval"):
            await self._open_rma(kind, target)
        elif kind in ("receipt", "resend", "return_scan.in_transit", "scan.replacement"):
            await self._after_rma(kind, target)
        elif kind == "refund_failed":
            failed = self.hub.fakes.payments.fail_last_refund(self.order_id)
            if failed is None:
                self.notes.append("refund_failed: nothing was refunded")
                return
            # As the provider's webhook reports it: the payment, the refund and the hub's key it was made under.
            refund_failed = self._event(
                EventKind.REFUND_FAILED,
                "payment",
                amount=failed.amount,
                reason="expired_card",
                payment_id=failed.payment_id,
                refund_id=failed.refund_id,
                hub_reference=failed.hub_reference,
            )
            await self.signal(refund_failed)
        elif kind == "dispute":
            view = await self.view()
            await self.signal(self._event(EventKind.DISPUTE_OPENED, "payment", amount=view.captured, reason="fraud"))
        else:
            raise ValueError(f"no way to drive {kind}")

    async def _open_rma(self, kind: str, target: int) -> None:
        # Drawn before any await: two after-sales events under way at once used to get the same id (the first not
        # opened yet), and the second request was refused as a conflict, reported as an Update never answered.
        self.rma_ids_drawn += 1
        rma_id = f"{self.order_id}-R{self.rma_ids_drawn}"
        view = await self.view()
        line = view.lines[target % len(view.lines)]
        after_sales = {
            "return": AfterSalesKind.RETURN,
            "return.store": AfterSalesKind.RETURN,
            "exchange": AfterSalesKind.EXCHANGE,
        }.get(kind, AfterSalesKind.CLAIM)
        request = ReturnRequest(
            rma_id=rma_id,
            kind=after_sales,
            lines=[ReturnLineRequest(sku=line.sku, quantity=1)],
            channel="store" if kind == "return.store" else "web",
            claim_reason=ClaimReason.DAMAGED if after_sales is AfterSalesKind.CLAIM else None,
            resolution=Resolution.REPLACE if kind == "claim.replace" else Resolution.REFUND,
        )
        opened = False

        async def open_it() -> None:
            nonlocal opened
            await self.orders.open_return(self.order_id, request)
            opened = True
            self.rmas.append(rma_id)  # only an RMA that exists is received, resent or approved later

        await self.update(kind, open_it)
        if kind == "claim.approval" and opened:
            decision = ApprovalDecision(approved=bool(target % 2), operator="fuzz")
            await self.update("approval", lambda: self.orders.decide_approval(rma_id, decision))

    async def _after_rma(self, kind: str, target: int) -> None:
        rma_id = self._rma(target)
        if rma_id is None:
            self.notes.append(f"{kind}: no RMA")
            return
        orders = self.orders
        if kind == "receipt":
            await self.update(kind, lambda: orders.record_receipt(rma_id, ReturnReceipt(received_via="store")))
        elif kind == "resend":
            await self.update(kind, lambda: orders.resend_return_label(rma_id, ResendLabel()))
        elif kind == "scan.replacement":
            await self._replacement_delivered(rma_id)
        else:
            with contextlib.suppress(Exception):
                rma = await orders.return_view(rma_id)
                reference = rma.return_shipment.reference if rma.return_shipment else None
                event = self._event(EventKind.SHIPMENT_IN_TRANSIT, "carrier", shipment_reference=reference)
                await orders.record_return_event(rma_id, event)

    async def _replacement_delivered(self, rma_id: str) -> None:
        """The carrier's delivered scan of an RMA's replacement, once it has shipped (a few seconds at most)."""
        for _ in range(20):
            try:
                rma = await self.orders.return_view(rma_id)
            except ReturnNotFound:
                rma = None
            if rma is not None and rma.replacement_shipment is not None:
                parcel = rma.replacement_shipment
                event = self._event(
                    EventKind.SHIPMENT_DELIVERED,
                    "carrier",
                    shipment_reference=parcel.reference,
                    tracking_code=parcel.tracking_code,
                )
                await self.orders.record_return_event(rma_id, event)
                return
            await asyncio.sleep(0.25)
        self.notes.append("scan.replacement: no replacement shipped")


async def _delivered_or_rested(run: _Run, rested: asyncio.Event) -> bool:
    """Wait until the order's goods reached the customer (True) or the order rests without (False), from the view
    the rest watch reads (one reader per scenario keeps queries few)."""
    while not rested.is_set():
        if run.latest is not None and run.latest.delivered_at is not None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rested.wait(), READ_EVERY_S)
    return False


async def _drive(run: _Run, event: Event, rested: asyncio.Event) -> None:
    if event.phase == "after_delivery" and not await _delivered_or_rested(run, rested):
        run.notes.append(f"{event.kind}: never delivered")
        return
    await asyncio.sleep(event.at_ms / 1000)
    await run.apply(event)


async def _rma_rests(orders: OrderClient, rma_id: str) -> bool:
    """Ended, or waiting for a person."""
    try:
        description = await orders.return_handle(rma_id).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:  # listed by the order, not started yet
            return False
        raise
    if description.status is not WorkflowExecutionStatus.RUNNING:
        return True
    return (await orders.return_view(rma_id)).status is ReturnStatus.REQUIRES_ACTION


_BUSY = frozenset({RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.DEADLINE_EXCEEDED})
"""A query the server or the worker is too busy to answer now: read again later."""


async def _rest(run: _Run) -> str | None:
    """Wait for the order and its RMAs to rest; None, or why they did not. Reads the view every
    :data:`READ_EVERY_S` (a server too busy to answer a query is read again later)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SCENARIO_TIMEOUT_S
    last, quiet_since = "", loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(READ_EVERY_S)
        try:
            run.latest = view = await run.view()
            rmas_rest = [await _rma_rests(run.orders, rma_id) for rma_id in view.returns]
        except RPCError as error:
            if error.status not in _BUSY:
                raise
            continue
        if view.finished and all(rmas_rest):
            return None
        seen = view.model_dump_json(exclude={"finished"}) + str(rmas_rest)
        if seen != last:
            last, quiet_since = seen, loop.time()
        # Waiting for a person (the order or an RMA): at rest once nothing has moved for longer than any deadline.
        waits = view.finished or view.status is OrderStatus.REQUIRES_ACTION
        if waits and all(rmas_rest) and loop.time() - quiet_since > QUIET_S:
            return None
    return f"not at rest after {SCENARIO_TIMEOUT_S:g} s"


async def run_scenario(hub: FuzzHub, scenario: Scenario) -> Result:
    """Place the scenario's order, drive its events, wait for it to rest and check the invariants."""
    order_id = f"F{scenario.seed}-{uuid.uuid4().hex[:8]}"
    order = _order(order_id, scenario)
    policy = _set_up(hub, order, scenario.events)
    run = _Run(hub, hub.orders(policy), order)
    await run.orders.place(order)
    rested = asyncio.Event()
    timed = [event for event in scenario.events if event.phase != "setup"]
    drivers = [asyncio.create_task(_drive(run, event, rested)) for event in timed]
    failure = None
    try:
        failure = await _rest(run)
    finally:
        rested.set()
        # Events already under way get a moment to answer after the order rests; an Update still pending then is
        # one the workflow will never answer.
        done, still = await asyncio.wait(drivers, timeout=10.0) if drivers else (set(), set())
        for task in still:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                run.notes.append(f"driver failed: {task.exception()!r}")
    for attempt in range(5):
        try:
            violations = await order_violations(
                run.orders,
                hub.fakes.effects,
                hub.fakes.notifier,
                hub.fakes.publisher,
                order_id,
                unanswered=list(run.pending.values()),
            )
            break
        except RPCError as error:
            if error.status not in _BUSY or attempt == 4:
                raise
            await asyncio.sleep(1.0)
    if failure is not None and not any(v.family is Family.LIVENESS for v in violations):
        violations.append(Violation(Family.LIVENESS, failure))
    return Result(scenario, order_id, violations, run.notes)


# -- shrinking -------------------------------------------------------------------------------------------------------


async def shrink(hub: FuzzHub, failed: Result, *, max_runs: int = 16) -> Scenario:
    """The smallest event list found (delta debugging: drop chunks, then single events) that still breaks an
    invariant of the same family as the original failure."""
    families = {v.family for v in failed.violations}
    scenario = failed.scenario
    runs = 0

    async def still_fails(events: tuple[Event, ...]) -> bool:
        nonlocal runs
        runs += 1
        outcome = await run_scenario(hub, scenario.with_events(events))
        return any(v.family in families for v in outcome.violations)

    events, parts = scenario.events, 2
    while len(events) >= 1 and runs < max_runs:
        size = max(1, -(-len(events) // parts))
        for start in range(0, len(events), size):
            candidate = events[:start] + events[start + size :]
            if await still_fails(candidate):
                events, parts = candidate, max(parts - 1, 2)
                break
        else:
            if size == 1:
                break
            parts = min(len(events), parts * 2)
    return scenario.with_events(events)


# -- many scenarios --------------------------------------------------------------------------------------------------


async def run_many(
    hub: FuzzHub,
    scenarios: list[Scenario],
    *,
    concurrency: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """Every scenario, ``concurrency`` at a time; results in the scenarios' order. A scenario whose run breaks
    (not an invariant: the harness itself) is reported as a liveness violation with the error."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(scenario: Scenario) -> Result:
        nonlocal done
        async with gate:
            try:
                result = await run_scenario(hub, scenario)
            except Exception as error:
                frames = [f for f in traceback.extract_tb(error.__traceback__) if "tests/fuzz" in f.filename]
                where = f"{frames[-1].name}:{frames[-1].lineno}" if frames else "?"
                broken = Violation(Family.LIVENESS, f"the run broke: {type(error).__name__}: {error} ({where})")
                result = Result(scenario, "?", [broken])
        done += 1
        if progress is not None:
            progress(done, len(scenarios))
        return result

    return list(await asyncio.gather(*(one(scenario) for scenario in scenarios)))


def report(result: Result, shrunk: Scenario | None = None, *, rerun: str) -> str:
    """A failure as the lead reads it: its seed, what broke, its (shrunk) events and how to run it again."""
    lines = [f"FAILED {result.scenario.describe()} (order {result.order_id})"]
    lines += [f"    {violation}" for violation in result.violations]
    if shrunk is not None:
        lines.append(f"  shrunk to: [{', '.join(map(str, shrunk.events)) or 'no events'}]")
    if result.notes:
        lines.append(f"  events: {'; '.join(result.notes)}")
    lines.append(f"  re-run: {rerun}")
    return "\n".join(lines)
