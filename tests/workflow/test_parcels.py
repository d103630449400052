"""Parcels that do not reach the customer (issue 14, scenarios 1 to 5): lost past the deadline, returned to sender, one
of two parcels returned, parcels followed while the rest of a split order waits for stock, scans that name no
parcel. Each is set right as the retailer's policy says, the customer told once, and the order stays open while a
person must act."""

from datetime import UTC, datetime, timedelta

from temporalio.client import WorkflowHandle

from domain.backorder import BackorderChoice, BackorderDecision
from domain.events import EventKind, UpstreamEvent
from domain.inventory import HoldStatus
from domain.keys import shipment_reference
from domain.order_view import ActionRequired, OrderView, UndeliveredParcel
from domain.returns import Disposition, ReturnRequest
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import OrderClient
from tests.eventually import eventually
from tests.orders import make_order, policy, view_when
from tests.workflow.conftest import FakeHub
from workflows.order import OrderWorkflow
from workflows.search_attributes import ACTION_REASON

PEN, INK = 12900, 450  # unit prices of tests.orders.BASE: PEN-01 x1, INK-07 x2
TOTAL = PEN + 2 * INK


def _orders(hub: FakeHub, **changes: object) -> OrderClient:
    settings = {"tracking_poll_interval": timedelta(hours=1), **changes}  # parcels move by the scans sent here
    return OrderClient(hub.env.client, task_queue=hub.orders.task_queue, policy=policy(**settings))


def _scan(order_id: str, name: str, kind: EventKind, parcel: int | None = 1) -> UpstreamEvent:
    return UpstreamEvent(
        event_id=f"carrier:{name}",
        source="carrier",
        kind=kind,
        order_id=order_id,
        occurred_at=datetime.now(UTC),
        shipment_reference=shipment_reference(order_id, parcel) if parcel else None,
    )


def _kinds(view: OrderView) -> list[str]:
    return [m.split(".", 1)[1] for m in view.messages_sent]


async def _shipped(orders: OrderClient, order_id: str, parcels: int = 1) -> OrderView:
    def told(view: OrderView) -> bool:
        return (
            sum(s.captured for s in view.shipments) == parcels and f"{order_id}.order-shipped.1" in view.messages_sent
        )

    return await view_when(orders, order_id, told, what=f"{parcels} parcel(s) shipped")


async def test_a_parcel_not_delivered_by_the_deadline_is_refunded_and_the_customer_told(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 1: the carrier never delivers. The parcel is taken as lost at the deadline, its value
    refunded (policy ``refund``), the customer told once, and the order completes: nothing is left for a person."""
    fake_hub.carrier.deliver_after_polls = 10_000
    orders = _orders(fake_hub, delivery_deadline=timedelta(seconds=2))
    order = make_order()
    placed = await orders.place(order)

    view = await placed.handle.result()

    assert (view.status, view.refunded) == (OrderStatus.COMPLETED, TOTAL)  # was requires_action, nothing refunded
    assert [s.status.value for s in view.shipments] == ["lost"]
    assert (view.status, view.payment_status, view.fulfillment_status) == (
        OrderStatus.COMPLETED,
        PaymentStatus.REFUNDED,
        FulfillmentStatus.LOST,
    )
    assert view.captured == view.refunded == TOTAL and view.action_required == []
    [payment] = fake_hub.payments.by_key.values()
    assert payment.refunded == payment.captured == TOTAL  # the provider's ledger agrees with the view
    assert _kinds(view) == ["order-confirmed.1", "order-shipped.1", "parcel-undelivered.1"]
    told = fake_hub.notifier.sent[f"{order.order_id}.parcel-undelivered.1"].text  # fr-FR
    assert "perdu" in told and "138,00\u00a0€" in told and "vous ont été remboursés" in told


async def test_a_refused_refund_of_a_lost_parcel_waits_for_a_person_and_a_retry_completes_it(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 1, when the provider refuses the refund: the order is ``requires_action`` with the reason
    in ``ActionReason`` and stays open (it used to finish); the customer is told the refund is on its way, not
    that it was made; the operator's retry refunds, tells the customer, and the order completes."""
    fake_hub.carrier.deliver_after_polls = 10_000
    fake_hub.effects.reject["refund"] = "charge_disputed"
    orders = _orders(fake_hub, delivery_deadline=timedelta(seconds=2))
    order = make_order()
    placed = await orders.place(order)

    waiting = await view_when(
        orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="waiting for a person"
    )
    assert not waiting.finished  # it used to end here, out of reach of any Update
    assert waiting.action_required == [ActionRequired.PARCEL_REFUND_REFUSED] and waiting.refunded == 0
    told = fake_hub.notifier.sent[f"{order.order_id}.parcel-undelivered.1"].text
    assert "prend plus de temps que prévu" in told and "vous ont été remboursés" not in told
    indexed = await eventually(
        lambda: placed.handle.describe(),
        lambda d: d.typed_search_attributes.get(ACTION_REASON) == "parcel refund refused",
        what="ActionReason indexed",
    )
    assert indexed.status is not None and indexed.status.name == "RUNNING"

    del fake_hub.effects.reject["refund"]
    retried = await orders.retry_actions(order.order_id)

    assert retried.action_required == [] and retried.refunded == TOTAL
    view = await placed.handle.result()
    assert view.status is OrderStatus.COMPLETED and view.payment_status is PaymentStatus.REFUNDED
    assert _kinds(view)[-2:] == ["parcel-undelivered.1", "parcel-undelivered.2"]
    assert "vous ont été remboursés" in fake_hub.notifier.sent[f"{order.order_id}.parcel-undelivered.2"].text


async def test_a_parcel_returned_to_sender_is_reported_to_the_erp_refunded_and_told(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 2: the carrier scans ``return_to_sender``. The goods are reported back to the ERP (a
    receipt named by the parcel), the parcel refunded, the customer told once, and the order completes."""
    orders = _orders(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)

    await placed.handle.signal(
        OrderWorkflow.record_event, _scan(order.order_id, "rts", EventKind.SHIPMENT_RETURNED_TO_SENDER)
    )
    view = await placed.handle.result()

    receipt = fake_hub.inventory.receipts[f"{order.order_id}:parcel.returned:1"]
    assert sorted((r.sku, r.quantity, r.disposition) for r in receipt.lines) == [
        ("INK-07", 2, Disposition.RESTOCK),
        ("PEN-01", 1, Disposition.RESTOCK),
    ]
    assert (view.status, view.fulfillment_status) == (OrderStatus.COMPLETED, FulfillmentStatus.RETURNED_TO_SENDER)
    assert view.refunded == view.captured == TOTAL
    assert _kinds(view) == ["order-confirmed.1", "order-shipped.1", "parcel-undelivered.1"]
    assert "n'a pas pu livrer le colis" in fake_hub.notifier.sent[f"{order.order_id}.parcel-undelivered.1"].text


async def test_one_parcel_delivered_and_one_returned_to_sender_is_not_said_to_be_delivered(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 3: two parcels, one delivered, one returned to sender. The order is not rolled up as
    delivered and no "delivered" message goes out; the returned parcel alone is refunded and told, and what was
    delivered may still be returned."""
    fake_hub.inventory.locations = {"PEN-01": "LYON", "INK-07": "PARIS"}
    orders = _orders(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id, parcels=2)

    handle: WorkflowHandle[OrderWorkflow, OrderView] = placed.handle
    await handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d1", EventKind.SHIPMENT_DELIVERED, 1))
    await handle.signal(
        OrderWorkflow.record_event, _scan(order.order_id, "rts2", EventKind.SHIPMENT_RETURNED_TO_SENDER, 2)
    )
    view = await handle.result()

    assert [s.status for s in view.shipments] == [FulfillmentStatus.DELIVERED, FulfillmentStatus.RETURNED_TO_SENDER]
    assert view.fulfillment_status is FulfillmentStatus.RETURNED_TO_SENDER
    assert "order-delivered.1" not in _kinds(view) and "parcel-undelivered.1" in _kinds(view)
    assert view.refunded == 2 * INK and view.payment_status is PaymentStatus.PARTIALLY_REFUNDED
    assert view.delivered_at is not None  # the delivered parcel's return window opened
    assert list(fake_hub.inventory.receipts) == [f"{order.order_id}:parcel.returned:2"]


async def test_a_scan_without_a_shipment_reference_moves_the_parcel_it_is_about_or_none(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 5: a carrier scan that names no shipment used to move the newest label, possibly the wrong
    parcel. It now moves the parcel with its tracking code; one that names no parcel of a two-parcel order moves
    none (it is skipped, said so on the timeline) rather than a guess."""
    fake_hub.inventory.locations = {"PEN-01": "LYON", "INK-07": "PARIS"}
    orders = _orders(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    shipped = await _shipped(orders, order.order_id, parcels=2)
    first, second = shipped.shipments

    anonymous = _scan(order.order_id, "anon", EventKind.SHIPMENT_DELIVERED, parcel=None)
    await placed.handle.signal(OrderWorkflow.record_event, anonymous)
    await placed.handle.signal(
        OrderWorkflow.record_event,
        _scan(order.order_id, "by-code", EventKind.SHIPMENT_DELIVERED, parcel=None).model_copy(
            update={"tracking_code": first.tracking_code}
        ),
    )

    moved = await view_when(
        orders,
        order.order_id,
        lambda v: v.shipments[0].status is FulfillmentStatus.DELIVERED,
        what="the first parcel delivered by its tracking code",
    )
    assert moved.shipments[1].status is FulfillmentStatus.LABEL_CREATED  # the newest label was not touched
    assert any(e.step == "tracking" and e.outcome == "skipped" for e in moved.timeline)
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d2", EventKind.SHIPMENT_DELIVERED, 2))
    view = await placed.handle.result()
    assert [s.status for s in view.shipments] == [FulfillmentStatus.DELIVERED] * 2 and second.tracking_code
    assert view.status is OrderStatus.COMPLETED


async def test_a_split_order_waiting_for_stock_keeps_following_the_parcel_that_left(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 4: the available items ship, the rest waits for stock. The parcel that left is still
    followed: the customer hears of its delay and of its delivery when they happen, and what it carried may be
    returned at once (it used to be refused until the last item shipped)."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = _orders(
        fake_hub,
        backorder_decision_timeout=timedelta(hours=1),
        backorder_recheck_interval=timedelta(hours=1),
        returns={"window": timedelta(days=30)},
    )
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backordered")
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))
    await _shipped(orders, order.order_id)

    async def told(view_ready: str) -> OrderView:
        return await view_when(
            orders, order.order_id, lambda v: view_ready in _kinds(v), what=f"{view_ready} while waiting for stock"
        )

    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "x1", EventKind.SHIPMENT_EXCEPTION))
    await told("order-delayed.1")
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d1", EventKind.SHIPMENT_DELIVERED))
    delivered = await told("order-delivered.1")

    assert delivered.backorder is not None and delivered.fulfillment_status is FulfillmentStatus.OPEN  # more to come
    message = fake_hub.notifier.sent[f"{order.order_id}.order-delivered.1"]
    assert "Un colis de votre commande" in message.text and (delivered.shipments[0].tracking_code or "") in message.text
    opened = await orders.open_return(
        order.order_id, ReturnRequest(rma_id=f"R-{order.order_id}", lines=[{"sku": "PEN-01", "quantity": 1}])
    )
    assert opened.created and [(x.sku, x.quantity) for x in opened.view.lines] == [("PEN-01", 1)]
    assert (await orders.view(order.order_id)).returns == [f"R-{order.order_id}"]


async def test_with_the_reship_policy_a_parcel_returned_to_sender_is_sent_again_at_no_charge(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 2, for a retailer whose policy is ``reship``: the goods back are reported to the ERP, the
    same goods leave again as a new parcel (held, labelled, committed; nothing charged or refunded), the customer
    gets the new tracking, and its delivery completes the order."""
    orders = _orders(fake_hub, undelivered_parcel=UndeliveredParcel.RESHIP)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)

    await placed.handle.signal(
        OrderWorkflow.record_event, _scan(order.order_id, "rts", EventKind.SHIPMENT_RETURNED_TO_SENDER)
    )
    again = await view_when(
        orders, order.order_id, lambda v: "parcel-undelivered.1" in _kinds(v), what="sent again and told"
    )

    assert [(s.status, s.captured) for s in again.shipments] == [
        (FulfillmentStatus.CANCELED, True),
        (FulfillmentStatus.LABEL_CREATED, True),
    ]
    assert f"{order.order_id}:parcel.returned:1" in fake_hub.inventory.receipts
    assert fake_hub.inventory.holds[f"{order.order_id}:inventory.hold:2"].status is HoldStatus.COMMITTED
    told = fake_hub.notifier.sent[f"{order.order_id}.parcel-undelivered.1"].text
    assert "Nous vous renvoyons les mêmes articles" in told and (again.shipments[1].tracking_code or "?") in told
    await placed.handle.signal(OrderWorkflow.record_event, _scan(order.order_id, "d2", EventKind.SHIPMENT_DELIVERED, 2))
    view = await placed.handle.result()

    assert (view.status, view.fulfillment_status) == (OrderStatus.COMPLETED, FulfillmentStatus.DELIVERED)
    assert (view.captured, view.refunded) == (TOTAL, 0) and fake_hub.effects.counts["capture"] == 1
    assert _kinds(view)[-2:] == ["parcel-undelivered.1", "order-delivered.1"]


async def test_with_the_reship_policy_a_lost_parcel_without_stock_to_send_again_is_refunded(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 1, policy ``reship`` but the goods are no longer in stock: the hold is given back and the
    parcel refunded instead, so the customer is never left with neither."""
    fake_hub.carrier.deliver_after_polls = 10_000
    orders = _orders(fake_hub, undelivered_parcel=UndeliveredParcel.RESHIP, delivery_deadline=timedelta(seconds=2))
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)
    fake_hub.inventory.short = {"PEN-01": 1}

    view = await placed.handle.result()

    assert (view.status, view.fulfillment_status) == (OrderStatus.COMPLETED, FulfillmentStatus.LOST)
    assert view.refunded == view.captured == TOTAL
    assert fake_hub.inventory.holds[f"{order.order_id}:inventory.hold:2"].status is HoldStatus.RELEASED
    assert "vous ont été remboursés" in fake_hub.notifier.sent[f"{order.order_id}.parcel-undelivered.1"].text


async def test_a_returned_parcel_the_erp_refuses_to_take_back_waits_for_a_person_and_a_retry_reports_it(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 2, when the ERP refuses the receipt (generated seeds 695 and 4978): the parcel is still
    refunded and the customer told, the order is ``requires_action`` with the reason in ``ActionReason``, and the
    operator's retry reports the goods back on hand under the same receipt id; then the order completes."""
    fake_hub.effects.reject["return.receive"] = "receipt_mismatch"
    orders = _orders(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _shipped(orders, order.order_id)
    await placed.handle.signal(
        OrderWorkflow.record_event, _scan(order.order_id, "rts-refused", EventKind.SHIPMENT_RETURNED_TO_SENDER)
    )

    waiting = await view_when(
        orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="waiting for a person"
    )
    assert waiting.action_required == [ActionRequired.RETURNED_GOODS_UNREPORTED]
    assert f"{order.order_id}:parcel.returned:1" not in fake_hub.inventory.receipts
    await eventually(
        lambda: placed.handle.describe(),
        lambda d: d.typed_search_attributes.get(ACTION_REASON) == "returned parcel not reported",
        what="ActionReason indexed",
    )

    del fake_hub.effects.reject["return.receive"]
    retried = await orders.retry_actions(order.order_id)
    assert retried.action_required == []
    view = await placed.handle.result()

    assert f"{order.order_id}:parcel.returned:1" in fake_hub.inventory.receipts
    assert (view.status, view.refunded) == (OrderStatus.COMPLETED, TOTAL)
    assert _kinds(view) == ["order-confirmed.1", "order-shipped.1", "parcel-undelivered.1"]
