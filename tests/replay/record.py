"""Record one history per main path of each workflow type, for the replay test: ``make record-histories``
(``python -m tests.replay.record``).

Each path runs the real workflows on a fresh dev server, over the in-memory ports of ``tests/fakes.py`` with
short policies, and is checked to have ended as its name says before its history is written to
``tests/replay/histories/<workflow>-<path>.json`` (the JSON the Web UI and ``temporal workflow show -o json``
export). Ids are fixed and the data is ``tests.orders``' made-up customer on example.com: no real PII. Re-record
after an *intended* change to what a workflow does, once the change is guarded by ``workflow.patched`` or every
workflow that ran the old code has closed.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowUpdateStage
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.backorder import BackorderChoice, BackorderDecision
from domain.contract import OrderUpdate
from domain.events import EventKind, StockEvent, UpstreamEvent
from domain.keys import after_sales_key
from domain.order_view import AddressChange, CancelRequest, FailureReason, OrderView
from domain.payment import Payment
from domain.returns import (
    AfterSalesKind,
    ApprovalDecision,
    ClaimReason,
    ReturnPolicy,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
    ReturnView,
)
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.dev.binaries import temporal_cli
from tests.eventually import eventually
from tests.fakes import Effects, FakePayments
from tests.orders import BASE, make_order, policy
from tests.workflow.conftest import FakeHub, running_fake_hub
from workflows.order import OrderWorkflow
from workflows.search_attributes import ALL, PAYMENT_STATUS

HISTORIES = Path(__file__).parent / "histories"
IDENTITY = "replay-recorder"  # in every event a client or worker writes: not the host's name
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

Recording = dict[str, str]
"""File stem (``order-happy``) → the workflow id whose history it holds."""


class PathFailed(RuntimeError):
    """A path did not end as its name says: its history would not be the one the file name promises."""


def _expect(what: str, actual: object, expected: object) -> None:
    if actual != expected:
        raise PathFailed(f"{what}: expected {expected!r}, got {actual!r}")


class _GatedPayments(FakePayments):
    """Holds the authorization open until released, so a customer's cancel lands mid-saga every time."""

    def __init__(self, effects: Effects) -> None:
        super().__init__(effects)
        self.called = asyncio.Event()
        self.release = asyncio.Event()

    async def authorize(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> Payment:
        self.called.set()
        await self.release.wait()
        return await super().authorize(
            order_id=order_id,
            amount=amount,
            currency=currency,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
        )


def _hub(
    env: WorkflowEnvironment, name: str, *, gated: bool = False, **settings: Any
) -> AbstractAsyncContextManager[FakeHub]:
    """A worker over fresh fakes on its own task queue, with an order client using ``settings``."""
    return running_fake_hub(env, f"replay-{name}", policy(**settings), _GatedPayments if gated else FakePayments)


# Parcels move by the scans a path sends, not by polling, unless the path says otherwise.
PATIENT: dict[str, Any] = {
    "tracking_poll_interval": timedelta(hours=1),
    "backorder_decision_timeout": timedelta(hours=1),
    "backorder_recheck_interval": timedelta(hours=1),
    "publish_status_events": True,
}


def _scan(order_id: str, n: int, kind: EventKind, reference: str | None = None) -> UpstreamEvent:
    return UpstreamEvent(
        event_id=f"carrier:{order_id}-{n}",
        source="carrier",
        kind=kind,
        order_id=order_id,
        occurred_at=T0 + timedelta(minutes=n),
        shipment_reference=reference,
        raw_status=kind.value.removeprefix("shipment."),
    )


async def _deliver_all(hub: FakeHub, view: OrderView) -> OrderView:
    handle = hub.orders.handle(view.order_id)
    live = [s for s in view.shipments if s.captured and s.status is not FulfillmentStatus.CANCELED]
    for n, shipment in enumerate(live, start=1):
        await handle.signal(
            OrderWorkflow.record_event, _scan(view.order_id, n, EventKind.SHIPMENT_DELIVERED, shipment.reference)
        )
    return await handle.result()


# -- OrderWorkflow ---------------------------------------------------------------------------------------------


async def order_happy(env: WorkflowEnvironment) -> Recording:
    """The happy path as deployed by default: authorize, reserve, label, capture, commit; the carrier's webhook
    says delivered; the return window passes with no return. The cost test counts its billed actions."""
    async with _hub(
        env, "happy", tracking_poll_interval=timedelta(hours=1), returns=ReturnPolicy(window=timedelta(seconds=1))
    ) as hub:
        order_id = "RP-happy"
        placed = await hub.orders.place(make_order(order_id))
        # In life delivery comes days later: let the order come to rest following its parcel first.
        at_rest = await eventually(
            placed.handle.describe,
            lambda d: d.typed_search_attributes.get(PAYMENT_STATUS) == "captured",
            what="at rest",
        )
        assert at_rest is not None
        await _deliver_all(hub, await hub.orders.view(order_id))
        view = await placed.handle.result()
    _expect("status", view.status, OrderStatus.COMPLETED)
    return {"order-happy": placed.handle.id}


async def order_happy_polled(env: WorkflowEnvironment) -> Recording:
    """Delivered, the carrier polled (no webhook came), every status change published to the retailer."""
    async with _hub(
        env, "happy-polled", tracking_poll_interval=timedelta(milliseconds=200), publish_status_events=True
    ) as hub:
        placed = await hub.orders.place(make_order("RP-happy-polled"))
        view = await placed.handle.result()
    _expect("status", view.status, OrderStatus.COMPLETED)
    return {"order-happy-polled": placed.handle.id}


async def order_payment_declined(env: WorkflowEnvironment) -> Recording:
    """The card is declined at authorization: nothing to undo, the customer told once."""
    async with _hub(env, "payment-declined", **PATIENT) as hub:
        hub.effects.reject["authorize"] = "card_declined"
        placed = await hub.orders.place(make_order("RP-declined"))
        view = await placed.handle.result()
    _expect("outcome", (view.status, view.failure_reason), (OrderStatus.CANCELED, FailureReason.PAYMENT_DECLINED))
    return {"order-payment-declined": placed.handle.id}


async def order_capture_failed(env: WorkflowEnvironment) -> Recording:
    """The capture is refused after the label was bought: label voided, stock released, payment voided."""
    async with _hub(env, "capture-failed", **PATIENT) as hub:
        hub.effects.reject["capture"] = "charge_expired_for_capture"
        placed = await hub.orders.place(make_order("RP-capture-failed"))
        view = await placed.handle.result()
    _expect("outcome", (view.status, view.failure_reason), (OrderStatus.CANCELED, FailureReason.CAPTURE_FAILED))
    _expect("compensations", view.compensations, ["label voided", "stock released", "payment voided"])
    return {"order-capture-failed": placed.handle.id}


async def order_backorder_ship_available(env: WorkflowEnvironment) -> Recording:
    """Short stock: the customer ships what is there now; the ERP restocks; the rest follows as parcel 2."""
    async with _hub(env, "backorder", **PATIENT) as hub:
        hub.inventory.short = {"INK-07": 2}
        hub.inventory.restock = {"INK-07": date(2026, 12, 10)}
        order = make_order("RP-backorder")
        placed = await hub.orders.place(order)
        await eventually(
            lambda: hub.orders.view(order.order_id), lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backorder"
        )
        await hub.orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))
        await eventually(
            lambda: hub.orders.view(order.order_id),
            lambda v: (
                sum(s.captured for s in v.shipments) == 1
                and sum(e.step == "authorize_payment" for e in v.timeline) == 2
            ),
            what="first parcel and the remainder authorized",
        )
        hub.inventory.short.clear()
        restock = StockEvent(
            event_id="erp:RP-restock-1",
            kind=EventKind.STOCK_CHANGED,
            sku="INK-07",
            available=50,
            occurred_at=T0,
        )
        await placed.handle.signal(OrderWorkflow.stock_changed, restock)
        both = await eventually(
            lambda: hub.orders.view(order.order_id),
            lambda v: sum(s.captured for s in v.shipments) == 2,
            what="second parcel",
        )
        view = await _deliver_all(hub, both)
    _expect("status", view.status, OrderStatus.COMPLETED)
    _expect("parcels", len(view.shipments), 2)
    return {"order-backorder-ship-available": placed.handle.id}


async def order_customer_cancel(env: WorkflowEnvironment) -> Recording:
    """The customer cancels while the payment is being authorized: the authorization is voided, one message."""
    async with _hub(env, "customer-cancel", gated=True, **PATIENT) as hub:
        assert isinstance(hub.payments, _GatedPayments)
        placed = await hub.orders.place(make_order("RP-customer-cancel"))
        await asyncio.wait_for(hub.payments.called.wait(), timeout=30)
        cancel = await placed.handle.start_update(
            OrderUpdate.CANCEL,
            CancelRequest(reason="changed my mind", requested_via="web"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=OrderView,
        )
        hub.payments.release.set()
        await cancel.result()
        view = await placed.handle.result()
    _expect("outcome", (view.status, view.failure_reason), (OrderStatus.CANCELED, FailureReason.CANCELED_BY_CUSTOMER))
    _expect("compensations", view.compensations, ["payment voided"])
    return {"order-customer-cancel": placed.handle.id}


async def order_address_change(env: WorkflowEnvironment) -> Recording:
    """Paid and labelled, not yet scanned: the new address voids the label and buys another; then delivered."""
    async with _hub(env, "address-change", **PATIENT) as hub:
        order = make_order("RP-address-change")
        placed = await hub.orders.place(order)
        await eventually(
            lambda: hub.orders.view(order.order_id),
            lambda v: v.payment_status is PaymentStatus.CAPTURED and bool(v.shipments),
            what="shipped",
        )
        address = AddressChange.model_validate(
            {"shipping_address": {**BASE["shipping_address"], "line1": "10 avenue Foch"}, "requested_via": "phone"}
        )
        changed = await hub.orders.change_shipping_address(order.order_id, address)
        view = await _deliver_all(hub, changed)
    _expect("status", view.status, OrderStatus.COMPLETED)
    _expect("labels voided", hub.effects.counts["void_label"], 1)
    return {"order-address-change": placed.handle.id}


# -- ReturnWorkflow, opened through the delivered order as the API does ----------------------------------------

# The order stays open this long after delivery for returns: long enough to open one, short enough to record.
RETURN_WINDOW = timedelta(seconds=5)


async def _delivered(hub: FakeHub, order_id: str) -> None:
    placed = await hub.orders.place(make_order(order_id))
    shipped = await eventually(
        lambda: hub.orders.view(order_id),
        lambda v: v.payment_status is PaymentStatus.CAPTURED and bool(v.shipments),
        what="shipped",
    )
    reference = shipped.shipments[0].reference
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order_id, 1, EventKind.SHIPMENT_DELIVERED, reference))
    await eventually(lambda: hub.orders.view(order_id), lambda v: v.delivered_at is not None, what="delivered")


async def _rma_status(hub: FakeHub, rma_id: str, status: ReturnStatus) -> ReturnView:
    return await eventually(lambda: hub.orders.return_view(rma_id), lambda v: v.status is status, what=status.value)


def _return_scan(order_id: str, rma_id: str, n: int, kind: EventKind) -> UpstreamEvent:
    return _scan(order_id, 10 + n, kind, after_sales_key(order_id, rma_id, "return-label"))


async def return_refunded(env: WorkflowEnvironment) -> Recording:
    """A return: label bought and emailed, the parcel scanned on its way, received, refunded; the order told."""
    async with _hub(env, "return", **PATIENT, returns=ReturnPolicy(window=RETURN_WINDOW)) as hub:
        order_id, rma_id = "RP-return", "RMA-RP-return"
        await _delivered(hub, order_id)
        request = ReturnRequest.model_validate(
            {"rma_id": rma_id, "lines": [{"sku": "PEN-01", "quantity": 1}, {"sku": "INK-07", "quantity": 2}]}
        )
        await hub.orders.open_return(order_id, request)
        await _rma_status(hub, rma_id, ReturnStatus.LABEL_ISSUED)
        for n, kind in enumerate((EventKind.SHIPMENT_IN_TRANSIT, EventKind.SHIPMENT_DELIVERED), start=1):
            await hub.orders.record_return_event(rma_id, _return_scan(order_id, rma_id, n, kind))
        await _rma_status(hub, rma_id, ReturnStatus.IN_TRANSIT)
        await hub.orders.record_receipt(rma_id, ReturnReceipt(received_via="api"))
        returned = await hub.orders.return_handle(rma_id).result()
        order = await hub.orders.result(order_id)
    _expect("return", (returned.status, returned.refunded), (ReturnStatus.REFUNDED, 13800))
    _expect("order payment", order.payment_status, PaymentStatus.REFUNDED)
    return {"return-refunded": hub.orders.return_handle(rma_id).id, "order-returned": hub.orders.handle(order_id).id}


async def return_exchange(env: WorkflowEnvironment) -> Recording:
    """An exchange: the replacement reserved, labelled and shipped at no charge, the unwanted item received."""
    async with _hub(env, "exchange", **PATIENT, returns=ReturnPolicy(window=RETURN_WINDOW)) as hub:
        order_id, rma_id = "RP-exchange", "RMA-RP-exchange"
        await _delivered(hub, order_id)
        request = ReturnRequest.model_validate(
            {"rma_id": rma_id, "kind": "exchange", "lines": [{"sku": "PEN-01", "quantity": 1}], "reason": "wrong size"}
        )
        await hub.orders.open_return(order_id, request)
        await _rma_status(hub, rma_id, ReturnStatus.LABEL_ISSUED)
        await hub.orders.record_return_event(rma_id, _return_scan(order_id, rma_id, 1, EventKind.SHIPMENT_IN_TRANSIT))
        await _rma_status(hub, rma_id, ReturnStatus.IN_TRANSIT)
        await hub.orders.record_receipt(rma_id, ReturnReceipt(received_via="store", location="Paris Opera"))
        exchanged = await hub.orders.return_handle(rma_id).result()
        await hub.orders.result(order_id)
    _expect("exchange", (exchanged.status, exchanged.refunded), (ReturnStatus.EXCHANGED, 0))
    return {"return-exchange": hub.orders.return_handle(rma_id).id}


async def return_claim_approved(env: WorkflowEnvironment) -> Recording:
    """A claim worth more than the approval limit waits for an operator, who approves it: refunded."""
    async with _hub(env, "claim", **PATIENT, returns=ReturnPolicy(window=RETURN_WINDOW)) as hub:
        order_id, rma_id = "RP-claim", "RMA-RP-claim"
        await _delivered(hub, order_id)
        request = ReturnRequest.model_validate(
            {
                "rma_id": rma_id,
                "kind": AfterSalesKind.CLAIM,
                "claim_reason": ClaimReason.MISSING,
                "lines": [{"sku": "PEN-01", "quantity": 1}],
                "channel": "phone",
            }
        )
        await hub.orders.open_return(order_id, request)
        await eventually(
            lambda: hub.orders.return_view(rma_id),
            lambda v: v.status is ReturnStatus.AWAITING_APPROVAL and bool(v.messages_sent),
            what="awaiting approval",
        )
        await hub.orders.decide_approval(rma_id, ApprovalDecision(approved=True, operator="ops.lea", note="checked"))
        claim = await hub.orders.return_handle(rma_id).result()
        await hub.orders.result(order_id)
    _expect("claim", (claim.status, claim.refunded), (ReturnStatus.REFUNDED, 12900))
    return {"return-claim-approved": hub.orders.return_handle(rma_id).id}


PATHS: tuple[Callable[[WorkflowEnvironment], Awaitable[Recording]], ...] = (
    order_happy,
    order_happy_polled,
    order_payment_declined,
    order_capture_failed,
    order_backorder_ship_available,
    order_customer_cancel,
    order_address_change,
    return_refunded,
    return_exchange,
    return_claim_approved,
)
RECORDED = (
    "order-happy",
    "order-happy-polled",
    "order-payment-declined",
    "order-capture-failed",
    "order-backorder-ship-available",
    "order-customer-cancel",
    "order-address-change",
    "order-returned",
    "return-refunded",
    "return-exchange",
    "return-claim-approved",
)
"""Every history the recorder writes; the replay test insists on each."""


async def _write(client: Client, recording: Recording) -> None:
    for stem, workflow_id in recording.items():
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        path = HISTORIES / f"{stem}.json"
        path.write_text(history.to_json() + "\n")
        print(f"{path.name}: {len(history.events)} events, workflow {workflow_id}")


async def record() -> None:
    # The SDK logs each expected business rejection with its traceback: the paths check their own outcome.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    HISTORIES.mkdir(parents=True, exist_ok=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=ALL,
        identity=IDENTITY,
        dev_server_log_level="error",
    )
    try:
        # The paths are independent (own ids, task queues and fakes): record them side by side.
        recordings = await asyncio.gather(*(path(env) for path in PATHS))
        written: Recording = {}
        for recording in recordings:
            written.update(recording)
        missing = set(RECORDED) ^ set(written)
        if missing:
            raise PathFailed(f"RECORDED and the paths disagree on {sorted(missing)}")
        for stem in RECORDED:
            await _write(env.client, {stem: written[stem]})
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
