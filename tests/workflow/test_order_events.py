"""What upstreams push in (deduplicated, stale scans dropped) and what the hub pushes out (every status change,
in order, no gaps), plus decisions that arrive mid-saga."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.contract import OrderUpdate
from domain.events import EventKind, UpstreamEvent
from domain.keys import shipment_reference
from domain.notification import OutboundMessage
from domain.order_view import ActionRequired, AddressChange, OrderView
from domain.shipping import Label, LabelRequest
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import OrderClient
from tests.eventually import eventually
from tests.orders import BASE, make_order, policy, view_when
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
        policy=policy(tracking_poll_interval=timedelta(hours=1), publish_status_events=True),
    )


async def _shipped(orders: OrderClient, order_id: str) -> None:
    await view_when(
        orders, order_id, lambda v: v.payment_status is PaymentStatus.CAPTURED and bool(v.shipments), what="shipped"
    )


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


async def test_address_change_is_taken_before_the_label_and_refused_once_the_carrier_has_the_parcel(
    fake_hub: FakeHub,
) -> None:
    orders = _patient(fake_hub)
    fake_hub.effects.flaky["reserve"] = 1  # hold the saga before the label for a moment
    order = make_order()
    placed = await orders.place(order)
    changed = await placed.handle.execute_update(
        OrderUpdate.CHANGE_SHIPPING_ADDRESS, _address("10 avenue Foch"), result_type=OrderView
    )
    assert any(e.step == "shipping_address" for e in changed.timeline)

    await _shipped(orders, order.order_id)
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "s", EventKind.SHIPMENT_IN_TRANSIT, 1))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await placed.handle.execute_update(
            OrderUpdate.CHANGE_SHIPPING_ADDRESS, _address("1 rue de la Paix"), result_type=OrderView
        )
    assert "the parcel is already with the carrier" in str(refused.value.cause)
    assert fake_hub.carrier.requests[f"{order.order_id}:shipment:1"].to_address.line1 == "10 avenue Foch"
    assert fake_hub.effects.counts["buy_label"] == 1
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "x", EventKind.SHIPMENT_DELIVERED, 2))
    await placed.handle.result()


def _address(line1: str) -> AddressChange:
    return AddressChange.model_validate({"shipping_address": {**BASE["shipping_address"], "line1": line1}})


async def test_address_change_after_the_label_voids_it_and_ships_on_a_new_one(fake_hub: FakeHub) -> None:
    orders = _patient(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)  # paid and labelled, waiting for the carrier's pickup

    changed = await placed.handle.execute_update(
        OrderUpdate.CHANGE_SHIPPING_ADDRESS, _address("10 avenue Foch"), result_type=OrderView
    )
    assert [(s.shipment_no, s.status) for s in changed.shipments] == [
        (1, FulfillmentStatus.CANCELED),
        (2, FulfillmentStatus.LABEL_CREATED),
    ]
    assert fake_hub.carrier.voided == {f"{order.order_id}:shipment:1"}
    assert fake_hub.carrier.requests[f"{order.order_id}:shipment:2"].to_address.line1 == "10 avenue Foch"

    # A late scan of the voided label moves nothing; the new label's scans do.
    old_label = f"{order.order_id}:shipment:1"
    stale = _scan(order.order_id, "old", EventKind.SHIPMENT_IN_TRANSIT, 1).model_copy(
        update={"shipment_reference": old_label}
    )
    await placed.handle.signal(OrderWorkflow.record_event, stale)
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "y", EventKind.SHIPMENT_DELIVERED, 2))
    view = await placed.handle.result()
    assert view.status is OrderStatus.COMPLETED and fake_hub.effects.counts["capture"] == 1
    assert any(
        e.step == "tracking" and e.outcome == "skipped" and "voided label" in (e.detail or "") for e in view.timeline
    )
    first, second = (fake_hub.notifier.sent[f"{order.order_id}.order-shipped.{n}"] for n in (1, 2))
    new_code = fake_hub.carrier.labels[f"{order.order_id}:shipment:2"].tracking_code
    old_code = fake_hub.carrier.labels[old_label].tracking_code
    assert old_code in first.text and new_code in second.text and old_code not in second.text


async def test_address_change_is_refused_when_the_carrier_will_not_void_the_label(fake_hub: FakeHub) -> None:
    orders = _patient(fake_hub)
    fake_hub.effects.reject["void_label"] = "SHIPMENT.REFUND.REJECTED"
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await placed.handle.execute_update(
            OrderUpdate.CHANGE_SHIPPING_ADDRESS, _address("10 avenue Foch"), result_type=OrderView
        )
    assert "the carrier would not cancel the label" in str(refused.value.cause)
    view = await orders.view(order.order_id)
    assert [(s.shipment_no, s.status) for s in view.shipments] == [(1, FulfillmentStatus.LABEL_CREATED)]
    # The new address's label is bought before the old one is voided, and given up when that void is refused; the
    # carrier refuses that void too, so the unused label waits for a person rather than being paid for unnoticed.
    assert fake_hub.effects.counts["buy_label"] == 2 and fake_hub.carrier.voided == set()
    assert (view.status, view.action_required) == (OrderStatus.REQUIRES_ACTION, [ActionRequired.LABEL_VOID_REFUSED])
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "z", EventKind.SHIPMENT_DELIVERED, 1))
    delivered = await view_when(
        orders, order.order_id, lambda v: v.fulfillment_status is FulfillmentStatus.DELIVERED, what="delivered"
    )
    assert delivered.status is OrderStatus.REQUIRES_ACTION  # sticky: the delivery does not paper over the label

    del fake_hub.effects.reject["void_label"]  # the operator settles it with the carrier, then retries
    await orders.retry_actions(order.order_id)
    assert (await placed.handle.result()).status is OrderStatus.COMPLETED
    assert len(fake_hub.carrier.voided) == 1


async def test_a_carrier_exception_is_shown_and_a_later_scan_moves_the_parcel_on(fake_hub: FakeHub) -> None:
    orders = _patient(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)
    handle = placed.handle
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "t", EventKind.SHIPMENT_IN_TRANSIT, 10))
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "x", EventKind.SHIPMENT_EXCEPTION, 20))

    during = await orders.view(order.order_id)
    assert during.fulfillment_status is FulfillmentStatus.EXCEPTION
    assert during.status is OrderStatus.CONFIRMED  # an exception is news, not an ending
    [shown] = [e for e in during.timeline if e.step == "tracking" and e.outcome == "failed"]
    assert "exception" in (shown.detail or "")

    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d", EventKind.SHIPMENT_DELIVERED, 30))
    view = await handle.result()
    assert (view.status, view.fulfillment_status) == (OrderStatus.COMPLETED, FulfillmentStatus.DELIVERED)


async def test_the_customer_hears_of_a_delay_before_they_have_to_ask(fake_hub: FakeHub) -> None:
    """Story 1: the promised date passes without a delivery, then the carrier reports a problem: one message for
    each, in the customer's language, and the delivery itself is told too."""
    fake_hub.carrier.deliver_after_polls = 10_000  # the parcel moves only by the scans sent here
    orders = _patient(fake_hub)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    order = make_order(promised_delivery_date=yesterday.isoformat())
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)

    async def told(kind: str, n: int) -> str:
        async def sent() -> dict[str, OutboundMessage]:
            return fake_hub.notifier.sent

        notice = f"{order.order_id}.{kind}.{n}"
        messages = await eventually(sent, lambda s: notice in s, what=f"{notice} sent", show=lambda s: sorted(s))
        return messages[notice].text

    late = await told("order-delayed", 1)
    assert "au plus tard le" in late and "pas besoin de nous contacter" in late  # fr-FR, the promised date missed
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "ex", EventKind.SHIPMENT_EXCEPTION, 1))
    problem = await told("order-delayed", 2)
    assert "incident sur le colis" in problem
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "ex", EventKind.SHIPMENT_EXCEPTION, 2))
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d", EventKind.SHIPMENT_DELIVERED, 3))
    view = await placed.handle.result()

    kinds = [m.split(".", 1)[1] for m in view.messages_sent]
    assert kinds == [
        "order-confirmed.1",
        "order-shipped.1",
        "order-delayed.1",
        "order-delayed.2",
        "order-delivered.1",
    ]  # the repeated exception scan (same event id) told nothing new
    assert [m.channel for m in view.messages] == ["email"] * 5 and all(m.subject for m in view.messages)


async def test_a_delivery_scan_that_beats_the_label_purchase_answer_is_kept_for_its_parcel(fake_hub: FakeHub) -> None:
    """The carrier's webhook can arrive before our call to buy the label has returned (its tracker starts at the
    purchase): the scan is held for the parcel being labelled, not dropped as one for an unknown parcel."""
    orders = _patient(fake_hub)
    order = make_order()
    buying, answer = asyncio.Event(), asyncio.Event()
    buy_label = fake_hub.carrier.buy_label

    async def slow_answer(request: LabelRequest) -> Label:
        label = await buy_label(request)  # bought at the carrier...
        buying.set()
        await answer.wait()  # ...but the answer is late
        return label

    fake_hub.carrier.buy_label = slow_answer  # type: ignore[method-assign]
    placed = await orders.place(order)
    await asyncio.wait_for(buying.wait(), timeout=30)
    delivered = _scan(order.order_id, "early", EventKind.SHIPMENT_DELIVERED, 5).model_copy(
        update={"shipment_reference": shipment_reference(order.order_id, 1)}
    )
    await placed.handle.signal(OrderWorkflow.record_event, delivered)
    answer.set()

    view = await asyncio.wait_for(placed.handle.result(), timeout=30)  # the hourly poll would be too late
    assert view.status is OrderStatus.COMPLETED
    assert [x.status for x in view.shipments] == [FulfillmentStatus.DELIVERED]
    assert not any(e.step == "tracking" and e.outcome == "skipped" for e in view.timeline)


@pytest.mark.parametrize("unreachable", [False, True], ids=["refused", "unreachable"])
async def test_status_events_a_subscriber_refuses_for_days_are_kept_and_delivered_in_order_once_it_is_back(
    fake_hub: FakeHub, unreachable: bool
) -> None:
    """Issue 14, scenario 29: a batch that failed (retried until the deadline, three days by default, or at once
    when refused outright) was dropped, leaving the subscriber with a gap in ``seq``. It stays queued and goes
    out, in order, once accepted."""
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(
            tracking_poll_interval=timedelta(milliseconds=200),
            publish_status_events=True,
            status_events_overdue_after=timedelta(seconds=1),
        ),
    )
    fake_hub.publisher.down, fake_hub.publisher.unreachable = True, unreachable
    order = make_order()
    placed = await orders.place(order)
    waiting = await view_when(
        orders,
        order.order_id,
        lambda v: (
            v.status is OrderStatus.COMPLETED
            and (v.finished or any(e.step == "status_events_overdue" for e in v.timeline))
        ),
        what="delivered while its status events are refused, and flagged as overdue",
    )

    fake_hub.publisher.down = False
    view = await placed.handle.result()
    events = [e for e in fake_hub.publisher.events if e.order_id == order.order_id]
    assert events, "every status event of the order was dropped"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    states = [(e.status, e.payment_status, e.fulfillment_status) for e in events]
    assert states[0] == (OrderStatus.PENDING, PaymentStatus.NOT_PAID, FulfillmentStatus.OPEN)
    assert states[-1] == (view.status, view.payment_status, view.fulfillment_status)
    assert [e.step for e in view.timeline if e.step.startswith("status_events")] == [
        "status_events_overdue",
        "status_events_delivered",
    ]
    assert not waiting.finished  # the order stayed open while its events waited for the subscriber
