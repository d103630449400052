"""Undo steps the upstreams refuse (issue 14, scenarios 13 to 17): a refused void, release, commit or refund never
fails the workflow nor leaves an Update unanswered; the order goes to ``requires_action`` with the reason in the
``ActionReason`` search attribute and stays there; what was committed for goods that did not leave is given
back; the view's ``refunded`` is what the provider refunded."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle

from domain.backorder import BackorderChoice, BackorderDecision
from domain.events import EventKind, StockEvent, UpstreamEvent
from domain.inventory import HoldStatus
from domain.keys import hold_id
from domain.order_view import ActionRequired, FailureReason, OrderView
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import OrderClient, Placement
from tests.eventually import eventually
from tests.fakes import Outcome
from tests.orders import make_order, view_when
from tests.workflow.conftest import FakeHub, orders_moved_by_scans
from workflows.order import OrderWorkflow
from workflows.search_attributes import ACTION_REASON, ORDER_STATUS

PEN, INK = 12900, 450  # unit prices of tests.orders.BASE: PEN-01 x1, INK-07 x2
ANSWER_BOUND_S = 20  # an Update that has not answered by then never will: a bound, not a timing assertion


async def _backordered(orders: OrderClient, order_id: str) -> OrderView:
    return await view_when(orders, order_id, lambda v: v.backorder is not None, what="backorder")


async def _restock(placed: Placement, sku: str, event_id: str) -> None:
    event = StockEvent(
        event_id=f"erp:{event_id}", kind=EventKind.STOCK_CHANGED, sku=sku, available=50, occurred_at=datetime.now(UTC)
    )
    await placed.handle.signal(OrderWorkflow.stock_changed, event)


async def _deliver(handle: WorkflowHandle[OrderWorkflow, OrderView], reference: str) -> None:
    scan = UpstreamEvent(
        event_id=f"carrier:delivered-{reference}",
        source="carrier",
        kind=EventKind.SHIPMENT_DELIVERED,
        order_id=reference.split(":", 1)[0],
        occurred_at=datetime.now(UTC),
        shipment_reference=reference,
    )
    await handle.signal(OrderWorkflow.record_event, scan)


def _parcels(view: OrderView) -> list[str]:
    return [s.reference for s in view.shipments if s.captured]


async def _indexed_reason(placed: Placement) -> str | None:
    return (await placed.handle.describe()).typed_search_attributes.get(ACTION_REASON)


async def _waiting_for_a_person(placed: Placement, reason: str) -> None:
    """The order rests, open, with ``reason`` indexed: an operator can find it and retry."""
    await eventually(lambda: _indexed_reason(placed), lambda indexed: indexed == reason, what=f"{reason} indexed")
    assert (await placed.handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def test_a_refused_void_after_dropping_everything_missing_answers_the_choice_and_waits_for_a_person(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 13: nothing in stock, the customer chooses ``cancel_missing``, the provider refuses to
    void the authorization. The choice is answered (it never was), the order rests ``requires_action`` with the
    reason indexed, and the operator's retry voids the authorization and ends it cancelled."""
    fake_hub.inventory.short = {"PEN-01": 1, "INK-07": 2}
    fake_hub.effects.reject["void"] = "payment_intent_unexpected_state"
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)

    decision = BackorderDecision(choice=BackorderChoice.CANCEL_MISSING)
    answered = await asyncio.wait_for(orders.decide_backorder(order.order_id, decision), ANSWER_BOUND_S)

    assert answered.status is OrderStatus.REQUIRES_ACTION
    assert answered.action_required == [ActionRequired.PAYMENT_REVERSAL_REFUSED]
    await _waiting_for_a_person(placed, "payment not voided")
    assert [hold.status for hold in fake_hub.inventory.holds.values()] == [HoldStatus.RELEASED]
    still = await orders.retry_actions(order.order_id)  # refused again: the order says so and waits on
    assert still.status is OrderStatus.REQUIRES_ACTION and still.action_required

    fake_hub.effects.reject.pop("void")
    retried = await orders.retry_actions(order.order_id)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert retried.status is OrderStatus.CANCELED and retried.action_required == []
    assert view.status is OrderStatus.CANCELED and view.failure_reason is FailureReason.OUT_OF_STOCK
    assert view.compensations == ["payment voided"]
    assert [p.state.value for p in fake_hub.payments.by_key.values()] == ["voided"]
    assert view.messages_sent == [f"{order.order_id}.order-backordered.1", f"{order.order_id}.order-canceled.1"]
    assert await _indexed_reason(placed) is None


async def test_a_label_left_unvoided_by_the_undo_of_a_second_parcel_keeps_the_order_requiring_action(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 16: the second parcel's capture is refused and the carrier refuses to void its label;
    the first parcel's delivery must not turn the order ``completed``: it stays ``requires_action`` until the
    operator's retry voids the label."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))
    first = await view_when(
        orders,
        order.order_id,
        lambda v: len(_parcels(v)) == 1 and sum(e.step == "authorize_payment" for e in v.timeline) == 2,
        what="first parcel shipped, the rest authorized",
    )

    fake_hub.effects.reject["capture"] = "charge_expired_for_capture"
    fake_hub.effects.reject["void_label"] = "SHIPMENT.REFUND.REJECTED"
    fake_hub.inventory.short.clear()
    await _restock(placed, "INK-07", "restock-16")
    await view_when(
        orders,
        order.order_id,
        lambda v: v.status is OrderStatus.REQUIRES_ACTION and bool(v.canceled_lines),
        what="second parcel undone, its label left to a person",
    )
    await _deliver(placed.handle, _parcels(first)[0])
    delivered = await view_when(
        orders,
        order.order_id,
        lambda v: f"{order.order_id}.order-delivered.1" in v.messages_sent,  # the first parcel did arrive
        what="delivered",
    )

    assert delivered.status is OrderStatus.REQUIRES_ACTION
    assert delivered.action_required == [ActionRequired.LABEL_VOID_REFUSED]
    await _waiting_for_a_person(placed, "label void refused")
    fake_hub.effects.reject.pop("void_label")
    await orders.retry_actions(order.order_id)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert view.status is OrderStatus.COMPLETED and view.action_required == []
    assert view.captured == PEN and [(x.sku, x.quantity) for x in view.canceled_lines] == [("INK-07", 2)]
    assert view.payment_status is PaymentStatus.CAPTURED  # the first parcel stays paid
    assert len(fake_hub.carrier.voided) == 1


async def test_a_capture_refunded_by_the_undo_shows_as_refunded_in_the_view(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 17: the stock commit is refused after the capture; the undo refunds the capture, and
    the view says so (captured 138, refunded 138), as the provider's books do."""
    fake_hub.effects.reject["commit"] = "hold_released"
    order = make_order()
    placed = await fake_hub.orders.place(order)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert view.status is OrderStatus.CANCELED
    assert view.payment_status is PaymentStatus.REFUNDED
    provider = list(fake_hub.payments.by_key.values())
    assert [(p.captured, p.refunded) for p in provider] == [(order.total, order.total)]
    assert (view.captured, view.refunded) == (order.total, order.total)
    assert view.fulfillment_status is FulfillmentStatus.CANCELED


async def test_a_refused_second_commit_books_the_first_committed_hold_back_on_hand(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 14: waiting for everything, the restocked hold's commit is refused after the first hold
    was committed. The parcel cannot leave: the order is cancelled and refunded, and the first hold, which the ERP
    cannot release any more, is booked back on hand (a return receipt named after it) instead of staying
    committed for goods that never left."""
    fake_hub.inventory.short = {"INK-07": 1}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    first, second = hold_id(order.order_id, 1), hold_id(order.order_id, 2)
    fake_hub.inventory.refused_commits = {second}
    fake_hub.inventory.short.clear()
    await _restock(placed, "INK-07", "restock-14")
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    holds = fake_hub.inventory.holds
    assert (holds[first].status, holds[second].status) == (HoldStatus.COMMITTED, HoldStatus.RELEASED)
    receipt = fake_hub.inventory.receipts.get(f"{order.order_id}:inventory.hold-back:1")
    assert receipt is not None, "the committed hold was not booked back on hand"
    assert sorted((x.sku, x.quantity, x.disposition) for x in receipt.lines) == [
        ("INK-07", 1, "restock"),
        ("PEN-01", 1, "restock"),
    ]
    assert view.status is OrderStatus.CANCELED and view.action_required == []
    assert (view.captured, view.refunded) == (order.total, order.total)
    assert view.compensations == ["label voided", "stock released", "stock booked back", "payment refunded"]


async def test_a_refused_book_back_of_a_committed_hold_leaves_the_order_to_a_person(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 14: when the ERP also refuses the receipt that books the committed hold back on hand,
    the workflow does not fail: ``requires_action`` with the reason indexed, the rest undone, and the operator's
    retry books the stock back."""
    fake_hub.inventory.short = {"INK-07": 1}
    fake_hub.effects.reject["return.receive"] = "receipt_mismatch"
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    fake_hub.inventory.refused_commits = {hold_id(order.order_id, 2)}
    fake_hub.inventory.short.clear()
    await _restock(placed, "INK-07", "restock-14b")
    stuck = await view_when(orders, order.order_id, lambda v: bool(v.action_required), what="refused book-back")

    assert stuck.status is OrderStatus.REQUIRES_ACTION
    assert stuck.action_required == [ActionRequired.STOCK_RETURN_REFUSED]
    await _waiting_for_a_person(placed, "committed stock not booked back")
    fake_hub.effects.reject.pop("return.receive")
    await orders.retry_actions(order.order_id)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert view.status is OrderStatus.CANCELED and (view.captured, view.refunded) == (order.total, order.total)
    assert f"{order.order_id}:inventory.hold-back:1" in fake_hub.inventory.receipts


async def test_a_partial_restock_the_erp_will_not_take_back_is_kept_and_ships_with_the_rest(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 15: a restock too small for what is missing, whose hold the ERP refuses to release,
    no longer fails the workflow (leaving every hold held and the authorization open): the order keeps that
    hold, waits for the rest only, then ships everything and is paid once."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    fake_hub.inventory.short = {"INK-07": 1}
    fake_hub.effects.reject["release"] = "hold_committed"
    await _restock(placed, "INK-07", "restock-15-partial")
    kept = await view_when(
        orders, order.order_id, lambda v: any(e.step == "release_stock" for e in v.timeline), what="release refused"
    )
    assert kept.status is OrderStatus.CONFIRMED

    fake_hub.inventory.short.clear()
    await _restock(placed, "INK-07", "restock-15-rest")
    shipped = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 1, what="the one parcel")
    await _deliver(placed.handle, _parcels(shipped)[0])
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert [{x.sku: x.quantity for x in s.lines} for s in view.shipments] == [{"INK-07": 2, "PEN-01": 1}]
    assert [hold.status for hold in fake_hub.inventory.holds.values()] == [HoldStatus.COMMITTED] * 3
    assert [p.state.value for p in fake_hub.payments.by_key.values()] == ["captured"]


async def test_a_void_refused_before_an_authorization_renewal_renews_and_leaves_the_old_one_to_a_person(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 15 (the renewal): the provider refuses to void the ageing authorization. The workflow
    no longer fails: it authorizes afresh, ships and is paid from the new authorization, and stays
    ``requires_action`` until the operator's retry voids the old one."""
    fake_hub.inventory.short = {"INK-07": 1}
    orders = orders_moved_by_scans(fake_hub, authorization_validity=timedelta(seconds=1))
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    fake_hub.effects.reject["void"] = "payment_intent_unexpected_state"
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    await view_when(orders, order.order_id, lambda v: bool(v.action_required), what="void refused at renewal")
    fake_hub.effects.reject.pop("void")

    fake_hub.inventory.short.clear()
    await _restock(placed, "INK-07", "restock-15-renewal")
    shipped = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 1, what="the one parcel")
    await _deliver(placed.handle, _parcels(shipped)[0])
    delivered = await view_when(
        orders, order.order_id, lambda v: v.fulfillment_status is FulfillmentStatus.DELIVERED, what="delivered"
    )

    assert delivered.status is OrderStatus.REQUIRES_ACTION
    assert delivered.action_required == [ActionRequired.PAYMENT_REVERSAL_REFUSED]
    await _waiting_for_a_person(placed, "payment not voided")
    first = f"{order.order_id}:payment.authorize:1"
    assert fake_hub.payments.by_key[first].state.value == "authorized"  # the one the retry voids
    await orders.retry_actions(order.order_id)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert view.status is OrderStatus.COMPLETED and view.action_required == []
    assert view.captured == order.total and fake_hub.effects.counts["capture"] == 1
    assert view.payment_status is PaymentStatus.CAPTURED
    assert fake_hub.payments.by_key[first].state.value == "voided"


async def test_an_order_stopped_by_an_operator_after_shipping_says_why_it_needs_a_person(fake_hub: FakeHub) -> None:
    """Issue 14, the liveness invariant: ``requires_action`` always comes with its reason in ``ActionReason``. An
    operator cancelling the workflow after a parcel left used to leave the order ``requires_action`` with none."""
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 1, what="shipped")

    await placed.handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    attributes = (await placed.handle.describe()).typed_search_attributes
    assert attributes.get(ORDER_STATUS) == "requires_action"
    assert attributes.get(ACTION_REASON) == "stopped by an operator"


async def test_a_commit_applied_then_refused_on_retry_books_the_hold_back_on_hand(fake_hub: FakeHub) -> None:
    """Issue 14, generated scenario (seed 1605, stock): the ERP commits the hold but its answer is lost, and the
    retry under the same key is refused. The parcel cannot leave, so the undo gives the hold back; the ERP now
    has it committed, so its units are booked back on hand (a return receipt named after the hold) instead of
    staying committed for goods that never left."""
    order = make_order()
    fake_hub.effects.script[(order.order_id, "commit")] = [Outcome.TIMEOUT_AFTER_APPLY, Outcome.REFUSE]
    placed = await fake_hub.orders.place(order)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert fake_hub.inventory.holds[hold_id(order.order_id, 1)].status is HoldStatus.COMMITTED
    receipt = fake_hub.inventory.receipts.get(f"{order.order_id}:inventory.hold-back:1")
    assert receipt is not None, "the hold committed behind the refusal was not booked back on hand"
    assert sorted((x.sku, x.quantity) for x in receipt.lines) == [("INK-07", 2), ("PEN-01", 1)]
    assert view.status is OrderStatus.CANCELED and view.action_required == []
    assert "stock booked back" in view.compensations


async def test_a_capture_applied_then_refused_on_retry_shows_as_captured_and_refunded(fake_hub: FakeHub) -> None:
    """Issue 14, generated scenario (seeds 395 and 2100, money): the provider captures but its answer is lost, and
    the retry under the same key is refused. The order is undone and the provider refunds the capture; the view
    says captured and refunded alike, as the provider's books do, not 0 and 0."""
    order = make_order()
    fake_hub.effects.script[(order.order_id, "capture")] = [Outcome.TIMEOUT_AFTER_APPLY, Outcome.REFUSE]
    placed = await fake_hub.orders.place(order)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    provider = list(fake_hub.payments.by_key.values())
    assert [(p.captured, p.refunded) for p in provider] == [(order.total, order.total)]
    assert view.status is OrderStatus.CANCELED
    assert (view.captured, view.refunded) == (order.total, order.total)
