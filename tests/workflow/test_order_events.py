"""What upstreams push in (deduplicated, stale scans dropped) and what the hub pushes out (every status change,
in order, no gaps), plus decisions that arrive mid-saga."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.events import EventKind, UpstreamEvent
from domain.order_view import AddressChange, OrderPolicy
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import OrderClient
from tests.orders import BASE, make_order
from tests.workflow.conftest import FakeHub
from workflows.order import OrderWorkflow

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _scan(order_id: str, event_id: str, kind: EventKind, minutes: int) -> UpstreamEvent:
    return UpstreamEvent(
        event_id=f"carrier:{event_id}",
        source="carrier",
        kind=kind,
        order_id=order_id,
        occurred_at=T0 + timedelta(minutes=minutes),
        raw_status=kind.value.split(".")[1],
    )


def _patient(hub: FakeHub) -> OrderClient:
    """Polls the carrier only hourly, so anything that moves the parcel within a test came by event."""
    return OrderClient(
        hub.env.client,
        task_queue=hub.orders.task_queue,
        policy=OrderPolicy(tracking_poll_interval=timedelta(hours=1), publish_status_events=True),
    )


async def _shipped(orders: OrderClient, order_id: str) -> None:
    for _ in range(300):
        view = await orders.view(order_id)
        if view.payment_status is PaymentStatus.CAPTURED and view.shipments:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("order did not ship")


async def test_a_delivered_scan_completes_the_order_and_stale_or_repeated_scans_change_nothing(
    fake_hub: FakeHub,
) -> None:
    orders = _patient(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)

    handle = placed.handle
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "e1", EventKind.SHIPMENT_IN_TRANSIT, 10))
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "e1", EventKind.SHIPMENT_IN_TRANSIT, 10))
    await handle.signal(
        OrderWorkflow.record_event, _scan(order.order_id, "e2", EventKind.SHIPMENT_OUT_FOR_DELIVERY, 30)
    )
    # A scan from before the one already applied arrives late: it must not move the parcel backwards.
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "e0", EventKind.SHIPMENT_EXCEPTION, 5))
    assert (await orders.view(order.order_id)).fulfillment_status is FulfillmentStatus.OUT_FOR_DELIVERY
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "e3", EventKind.SHIPMENT_DELIVERED, 60))

    view = await handle.result()
    assert view.status is OrderStatus.COMPLETED
    assert view.fulfillment_status is FulfillmentStatus.DELIVERED
    tracking = [(e.outcome, e.detail) for e in view.timeline if e.step == "tracking"]
    assert [o for o, _ in tracking] == ["succeeded", "succeeded", "skipped", "succeeded"]
    assert fake_hub.carrier.polls == {}  # no poll was needed


async def test_every_status_change_is_published_in_order_without_gaps(fake_hub: FakeHub) -> None:
    order = make_order()
    view = await (await fake_hub.orders.place(order)).handle.result()
    events = [e for e in fake_hub.publisher.events if e.order_id == order.order_id]

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.event_id for e in events] == [f"{order.order_id}.status.{e.seq}" for e in events]
    states = [(e.status, e.payment_status, e.fulfillment_status) for e in events]
    assert states[0] == (OrderStatus.PENDING, PaymentStatus.NOT_PAID, FulfillmentStatus.OPEN)
    assert states[-1] == (view.status, view.payment_status, view.fulfillment_status)
    assert len(set(states)) == len(states)  # each event is a change
    assert (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED, FulfillmentStatus.OPEN) in states


async def test_refund_and_dispute_events_are_recorded_on_the_timeline(fake_hub: FakeHub) -> None:
    orders = _patient(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)
    dispute = UpstreamEvent(
        event_id="payment:evt_d",
        source="payment",
        kind=EventKind.DISPUTE_OPENED,
        order_id=order.order_id,
        occurred_at=T0,
        amount=13800,
        reason="fraudulent",
    )
    await placed.handle.signal(OrderWorkflow.record_event, dispute)
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d", EventKind.SHIPMENT_DELIVERED, 1))
    view = await placed.handle.result()
    assert any(e.step == "dispute" and "fraudulent" in (e.detail or "") for e in view.timeline)


async def test_address_change_is_taken_before_the_label_and_refused_after(fake_hub: FakeHub) -> None:
    orders = _patient(fake_hub)
    fake_hub.effects.flaky["reserve"] = 1  # hold the saga before the label for a moment
    order = make_order()
    placed = await orders.place(order)
    new_address = {**BASE["shipping_address"], "line1": "10 avenue Foch"}
    changed = await placed.handle.execute_update(
        OrderWorkflow.change_shipping_address, AddressChange.model_validate({"shipping_address": new_address})
    )
    assert any(e.step == "shipping_address" for e in changed.timeline)

    await _shipped(orders, order.order_id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await placed.handle.execute_update(
            OrderWorkflow.change_shipping_address, AddressChange.model_validate({"shipping_address": new_address})
        )
    assert "label is already bought" in str(refused.value.cause)
    assert fake_hub.carrier.requests[f"{order.order_id}:shipment:1"].to_address.line1 == "10 avenue Foch"
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "x", EventKind.SHIPMENT_DELIVERED, 1))
    await placed.handle.result()
