"""Customer decisions that arrive while the saga is moving (issue 14, scenarios 6-12): an address change whose new
label is refused, a cancellation racing a short reservation, a changed backorder choice, a retried decision, and a
continue-as-new while an Update is in flight. Each ends with the order, its money, stock, labels and messages right."""

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage

from domain.backorder import BackorderChoice, BackorderDecision
from domain.contract import OrderUpdate
from domain.events import EventKind, StockEvent, UpstreamEvent
from domain.order_view import AddressChange, OrderStatusChanged, OrderView
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import DecisionRefused, Placement
from tests.eventually import eventually
from tests.orders import BASE, make_order, view_when
from tests.workflow.conftest import FakeHub, orders_moved_by_scans
from workflows.order import OrderWorkflow
from workflows.search_attributes import BACKORDERED_SKUS

PEN, INK = 12900, 450  # unit prices of tests.orders.BASE: PEN-01 x1, INK-07 x2


def _address(line1: str) -> AddressChange:
    return AddressChange.model_validate({"shipping_address": {**BASE["shipping_address"], "line1": line1}})


def _scan(order_id: str, reference: str, kind: EventKind, name: str) -> UpstreamEvent:
    return UpstreamEvent(
        event_id=f"carrier:{name}",
        source="carrier",
        kind=kind,
        order_id=order_id,
        occurred_at=datetime.now(UTC),
        shipment_reference=reference,
        raw_status=kind.value.split(".")[1],
    )


async def _restock(hub: FakeHub, placed: Placement, sku: str, event_id: str) -> None:
    hub.inventory.short.pop(sku, None)
    event = StockEvent(
        event_id=f"erp:{event_id}", kind=EventKind.STOCK_CHANGED, sku=sku, available=50, occurred_at=datetime.now(UTC)
    )
    await placed.handle.signal(OrderWorkflow.stock_changed, event)


async def _deliver_live(handle: WorkflowHandle[OrderWorkflow, OrderView], view: OrderView) -> OrderView:
    """Deliver every parcel that left, on its live label."""
    for shipment in view.shipments:
        if shipment.captured and shipment.status is not FulfillmentStatus.CANCELED:
            scan = _scan(view.order_id, shipment.reference, EventKind.SHIPMENT_DELIVERED, f"d-{shipment.reference}")
            await handle.signal(OrderWorkflow.record_event, scan)
    return await handle.result()


async def _refused_change(placed: Placement, line1: str) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await placed.handle.execute_update(OrderUpdate.CHANGE_SHIPPING_ADDRESS, _address(line1), result_type=OrderView)
    return str(refused.value.cause)


def _shipped_with_live_labels(hub: FakeHub, view: OrderView) -> None:
    """Every tracking number the customer was told belongs to a live label (no relabel here: none was replaced)."""
    told = [m for n, m in hub.notifier.sent.items() if ".order-shipped." in n]
    for label in hub.carrier.labels.values():
        if label.reference in hub.carrier.voided:
            assert all(label.tracking_code not in m.text for m in told), f"voided {label.tracking_code} was told"


# -- scenarios 6, 7, 8: a relabel whose new label is refused -------------------------------------------------------


async def test_a_refused_new_label_during_a_retried_capture_keeps_the_old_label_and_ships(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 6: the address changes while the capture is being retried and the carrier refuses the
    new label. The old label stays live, the change is refused truthfully, and the order ships and completes on the
    old label: charged once, the hold committed once, nothing voided, no "nothing was charged"."""
    orders = orders_moved_by_scans(fake_hub)
    fake_hub.effects.flaky["capture"] = 3  # about 7 s of retries
    order = make_order()
    placed = await orders.place(order)
    await eventually(
        lambda: _async(fake_hub.effects.flaky["capture"]), lambda n: n < 3, what="the capture being retried"
    )
    fake_hub.effects.reject["buy_label"] = "ADDRESS.VERIFY.FAILURE"

    refusal = await _refused_change(placed, "10 avenue Foch")

    assert "address not changed" in refusal and "no label could be bought" in refusal
    assert fake_hub.carrier.voided == set()
    shipped = await view_when(
        orders, order.order_id, lambda v: f"{order.order_id}.order-shipped.1" in v.messages_sent, what="shipped"
    )
    view = await _deliver_live(placed.handle, shipped)
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert fake_hub.effects.counts["capture"] == 1 and fake_hub.effects.counts["commit"] == 1
    assert fake_hub.effects.counts["void"] == 0 and fake_hub.effects.counts["refund"] == 0
    assert f"{order.order_id}.order-canceled.1" not in view.messages_sent
    assert fake_hub.carrier.requests[f"{order.order_id}:shipment:1"].to_address.line1 == "3 rue des Lilas"
    _shipped_with_live_labels(fake_hub, view)


async def test_a_refused_new_label_on_the_second_parcel_of_a_split_order_answers_and_the_order_completes(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 7: the first parcel is with the carrier; the second, shipped after a restock, has its new
    label refused while its capture is retried. The Update answers, the second parcel keeps its label and the order
    completes, both parcels paid."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub, backorder_default=BackorderChoice.SHIP_AVAILABLE)
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backorder")
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))
    first = await view_when(
        orders, order.order_id, lambda v: f"{order.order_id}.order-shipped.1" in v.messages_sent, what="parcel 1"
    )
    [parcel_1] = [s for s in first.shipments if s.captured]
    await placed.handle.signal(
        OrderWorkflow.record_event, _scan(order.order_id, parcel_1.reference, EventKind.SHIPMENT_IN_TRANSIT, "t1")
    )
    fake_hub.effects.flaky["capture"] = 3
    await _restock(fake_hub, placed, "INK-07", "restock-1")
    await eventually(
        lambda: _async(fake_hub.effects.flaky["capture"]), lambda n: n < 3, what="the second capture being retried"
    )
    fake_hub.effects.reject["buy_label"] = "ADDRESS.VERIFY.FAILURE"

    refusal = await _refused_change(placed, "10 avenue Foch")

    assert "address not changed" in refusal
    assert fake_hub.carrier.voided == set()
    both = await view_when(
        orders, order.order_id, lambda v: f"{order.order_id}.order-shipped.2" in v.messages_sent, what="parcel 2"
    )
    view = await _deliver_live(placed.handle, both)
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert view.payment_status is PaymentStatus.CAPTURED
    _shipped_with_live_labels(fake_hub, view)


async def test_a_refused_new_label_after_shipping_leaves_the_old_label_live_and_the_order_completes(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 8: paid and labelled, the new address's label is refused. The old label is not voided,
    the refusal says so truthfully, and the parcel is delivered on it: completed, not requires_action."""
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    shipped = await view_when(
        orders, order.order_id, lambda v: f"{order.order_id}.order-shipped.1" in v.messages_sent, what="shipped"
    )
    fake_hub.effects.reject["buy_label"] = "ADDRESS.VERIFY.FAILURE"

    refusal = await _refused_change(placed, "10 avenue Foch")

    assert "address not changed: no label could be bought for the new address" in refusal
    assert fake_hub.carrier.voided == set()
    now = await orders.view(order.order_id)
    assert [(s.shipment_no, s.status) for s in now.shipments if s.status is not FulfillmentStatus.CANCELED] == [
        (1, FulfillmentStatus.LABEL_CREATED)
    ]
    view = await _deliver_live(placed.handle, shipped)
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert fake_hub.effects.counts["refund"] == 0 and fake_hub.effects.counts["void"] == 0


async def _async(value: int) -> int:
    return value


# -- scenario 9: a cancellation wins over the "choose" message -----------------------------------------------------


async def test_a_cancel_during_a_slow_short_reservation_is_not_followed_by_the_choose_message(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 9: the customer cancels while the reservation is being retried, and it comes back short.
    The order is cancelled and the customer told so, and never asked to choose what to do about missing items."""
    fake_hub.inventory.short = {"INK-07": 2}
    fake_hub.effects.flaky["reserve"] = 2  # about 3 s of retries
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await eventually(
        lambda: _async(fake_hub.effects.flaky["reserve"]), lambda n: n < 2, what="the reservation being retried"
    )

    canceled = await orders.cancel(order.order_id)

    assert canceled.status is OrderStatus.CANCELED
    view = await placed.handle.result()
    assert f"{order.order_id}.order-canceled.1" in view.messages_sent
    assert not any(".order-backordered." in m for m in view.messages_sent)
    assert not any(".order-backordered." in n for n in fake_hub.notifier.sent)
    assert fake_hub.effects.counts["release"] == 1 and fake_hub.effects.counts["void"] == 1


# -- scenario 12: continue-as-new waits for an accepted Update -----------------------------------------------------


async def test_an_address_change_accepted_while_events_go_out_before_continue_as_new_is_carried_out(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 12: the order continues as new at its first rest after shipping, and while that rest's
    status events are being published an address change is accepted. The Update answers with the new label, the
    next run carries it, and the parcel is delivered on it."""
    publishing, release = asyncio.Event(), asyncio.Event()
    publish = fake_hub.publisher.publish

    async def slow_publish(events: list[OrderStatusChanged]) -> None:
        publishing.set()
        await release.wait()
        await publish(events)

    fake_hub.publisher.publish = slow_publish  # type: ignore[method-assign]
    orders = orders_moved_by_scans(fake_hub, publish_status_events=True, history_event_limit=30)
    order = make_order()
    placed = await orders.place(order)
    await asyncio.wait_for(publishing.wait(), timeout=30)  # the first rest: continue-as-new is publishing
    fake_hub.effects.flaky["buy_label"] = 1  # the relabel is still under way when the events have gone out

    update = await placed.handle.start_update(
        OrderUpdate.CHANGE_SHIPPING_ADDRESS,
        _address("10 avenue Foch"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        result_type=OrderView,
    )
    release.set()
    changed = await asyncio.wait_for(update.result(), timeout=30)  # a bound, not a timing: it answers or never

    live = [s for s in changed.shipments if s.status is not FulfillmentStatus.CANCELED]
    assert [s.shipment_no for s in live] == [2]
    assert fake_hub.carrier.requests[live[0].reference].to_address.line1 == "10 avenue Foch"
    view = await _deliver_live(placed.handle, await orders.view(order.order_id))
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert any(e.step == "continue_as_new" for e in view.timeline)
    first_run = fake_hub.env.client.get_workflow_handle(placed.handle.id, run_id=placed.handle.first_execution_run_id)
    history = await first_run.fetch_history()
    assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    new_code = fake_hub.carrier.labels[live[0].reference].tracking_code
    assert new_code in fake_hub.notifier.sent[f"{order.order_id}.order-shipped.2"].text  # told the live label


# -- scenario 11: a retried decision gets the first answer ---------------------------------------------------------


async def test_a_retried_decision_with_the_same_key_gets_the_first_answer(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 11: the reply to a decision is lost and the caller sends it again with the same key: the
    backorder choice, the address change and the cancellation each answer as the first time (not "already
    decided", "another change" or "already requested"), and each is applied once."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backorder")

    choice = BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL)
    first = await orders.decide_backorder(order.order_id, choice, idempotency_key="choice-1")
    again = await orders.decide_backorder(order.order_id, choice, idempotency_key="choice-1")
    assert again.backorder == first.backorder and again.status is OrderStatus.CONFIRMED

    moved = await orders.change_shipping_address(order.order_id, _address("10 avenue Foch"), idempotency_key="addr-1")
    moved_again = await orders.change_shipping_address(
        order.order_id, _address("10 avenue Foch"), idempotency_key="addr-1"
    )
    assert moved_again.timeline == moved.timeline  # the same answer: nothing applied twice

    canceled = await orders.cancel(order.order_id, idempotency_key="cancel-1")
    await placed.handle.result()  # the cancelled order has ended
    canceled_again = await orders.cancel(order.order_id, idempotency_key="cancel-1")
    assert canceled_again.status is OrderStatus.CANCELED and canceled_again.timeline == canceled.timeline
    view = await orders.view(order.order_id)
    assert sum(e.step == "cancel_requested" for e in view.timeline) == 1
    assert sum(e.step == "shipping_address" for e in view.timeline) == 1
    assert sum(e.step == "backorder" and "chosen" in (e.detail or "") for e in view.timeline) == 1


# -- scenario 10: the backorder choice changes until it is acted on; what waits can be dropped --------------------


async def test_the_backorder_choice_can_be_changed_until_a_parcel_leaves(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 10: the customer chose to wait for everything, then changes their mind and asks for what
    is there now: it ships, and the rest follows after the restock. Once a parcel has left, waiting for everything
    can no longer be chosen."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backorder")
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.CONFIRMED, what="waiting for all")

    changed = await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))

    assert changed.backorder is not None and changed.backorder.choice is BackorderChoice.SHIP_AVAILABLE
    first = await view_when(
        orders, order.order_id, lambda v: f"{order.order_id}.order-shipped.1" in v.messages_sent, what="parcel 1"
    )
    assert [{x.sku: x.quantity for x in s.lines} for s in first.shipments if s.captured] == [{"PEN-01": 1}]
    assert f"{order.order_id}.backorder-decided.2" in first.messages_sent  # the new choice, told
    with pytest.raises(DecisionRefused, match="a parcel has left"):
        await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    await _restock(fake_hub, placed, "INK-07", "restock-10")
    both = await view_when(
        orders, order.order_id, lambda v: f"{order.order_id}.order-shipped.2" in v.messages_sent, what="parcel 2"
    )
    view = await _deliver_live(placed.handle, both)
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total


async def test_items_still_waiting_can_be_dropped_after_a_first_parcel_shipped(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 10: what was in stock shipped, the rest waits; the customer drops what waits. The
    authorization that covered it is voided, the items are cancelled and the customer told once; the parcel that
    left is delivered and the order completes charged for it only."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backorder")
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))
    await view_when(
        orders,
        order.order_id,
        lambda v: sum(e.step == "authorize_payment" for e in v.timeline) == 2,
        what="first parcel shipped, the rest authorized",
    )

    dropped = await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.CANCEL_MISSING))

    assert [(x.sku, x.quantity) for x in dropped.canceled_lines] == [("INK-07", 2)]
    assert fake_hub.effects.counts["void"] == 1  # the authorization of what waited
    assert f"{order.order_id}.items-canceled.1" in dropped.messages_sent
    view = await _deliver_live(placed.handle, dropped)
    assert view.status is OrderStatus.COMPLETED and view.captured == PEN
    assert fake_hub.effects.counts["capture"] == 1 and fake_hub.effects.counts["refund"] == 0
    assert not (await placed.handle.describe()).typed_search_attributes.get(BACKORDERED_SKUS)
