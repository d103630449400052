"""Story 4 over in-memory ports: a short reservation is told at once with its choices, each choice is carried out,
no answer applies the default, and an authorization that would lapse while the order waits is renewed."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.client import WorkflowHandle

from domain.backorder import BackorderChoice, BackorderDecision
from domain.events import EventKind, StockEvent, UpstreamEvent
from domain.order_view import AddressChange, FailureReason, OrderView
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import DecisionRefused, OrderClient, Placement
from tests.orders import BASE, make_order, view_when
from tests.workflow.conftest import FakeHub, orders_moved_by_scans
from workflows.order import OrderWorkflow
from workflows.search_attributes import BACKORDERED_SKUS

PEN, INK = 12900, 450  # unit prices of tests.orders.BASE: PEN-01 x1, INK-07 x2


async def _backordered(orders: OrderClient, order_id: str) -> OrderView:
    return await view_when(orders, order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="backorder")


async def _restock(hub: FakeHub, placed: Placement, sku: str, event_id: str) -> None:
    hub.inventory.short.pop(sku, None)
    event = StockEvent(
        event_id=f"erp:{event_id}",
        kind=EventKind.STOCK_CHANGED,
        sku=sku,
        available=50,
        occurred_at=datetime.now(UTC),
    )
    await placed.handle.signal(OrderWorkflow.stock_changed, event)


async def _deliver_all(handle: WorkflowHandle[OrderWorkflow, OrderView], view: OrderView) -> OrderView:
    for n, shipment in enumerate(s for s in view.shipments if s.captured):
        scan = UpstreamEvent(
            event_id=f"carrier:delivered-{n}",
            source="carrier",
            kind=EventKind.SHIPMENT_DELIVERED,
            order_id=view.order_id,
            occurred_at=datetime.now(UTC),
            shipment_reference=shipment.reference,
        )
        await handle.signal(OrderWorkflow.record_event, scan)
    return await handle.result()


def _told_shipped(view: OrderView) -> bool:
    return f"{view.order_id}.order-shipped.1" in view.messages_sent


def _parcels(view: OrderView) -> list[tuple[dict[str, int], int]]:
    return [({x.sku: x.quantity for x in s.lines}, s.value) for s in view.shipments if s.captured]


async def test_ship_available_now_and_the_rest_when_the_erp_restocks(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"INK-07": 2}
    fake_hub.inventory.restock = {"INK-07": date(2026, 12, 10)}
    orders = orders_moved_by_scans(fake_hub, backorder_decision_url="https://shop.example/orders/{order_id}/backorder")
    order = make_order()
    placed = await orders.place(order)

    waiting = await _backordered(orders, order.order_id)
    assert waiting.backorder is not None and waiting.backorder.choice is None
    assert [(x.sku, x.missing, x.restock_date) for x in waiting.backorder.lines] == [("INK-07", 2, date(2026, 12, 10))]
    told = fake_hub.notifier.sent[f"{order.order_id}.order-backordered.1"]
    assert "INK-07" in told.text and "10 décembre 2026" in told.text and "Expédier ce qui est là" in told.text
    # The customer is sent where the retailer takes their answer, for this order.
    assert f"ici : https://shop.example/orders/{order.order_id}/backorder" in told.text
    assert f"https://shop.example/orders/{order.order_id}/backorder" in (told.short_text or "")
    assert fake_hub.effects.counts["capture"] == 0  # nothing is charged while the customer decides

    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))

    def first_parcel_and_remainder_authorized(view: OrderView) -> bool:
        return len(_parcels(view)) == 1 and sum(e.step == "authorize_payment" for e in view.timeline) == 2

    first = await view_when(orders, order.order_id, first_parcel_and_remainder_authorized, what="first parcel")
    assert _parcels(first) == [({"PEN-01": 1}, PEN)]
    assert first.payment_status is PaymentStatus.PARTIALLY_CAPTURED
    # The first authorization was captured for the first parcel; the rest is authorized afresh.
    assert [p.authorized for p in fake_hub.payments.by_key.values()] == [PEN + 2 * INK, 2 * INK]
    description = await placed.handle.describe()
    assert description.typed_search_attributes.get(BACKORDERED_SKUS) == ["INK-07"]

    await _restock(fake_hub, placed, "INK-07", "restock-1")
    both = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 2, what="second parcel")
    assert _parcels(both) == [({"PEN-01": 1}, PEN), ({"INK-07": 2}, 2 * INK)]
    view = await _deliver_all(placed.handle, both)

    assert view.status is OrderStatus.COMPLETED and view.fulfillment_status is FulfillmentStatus.DELIVERED
    assert view.captured == order.total and fake_hub.effects.counts["capture"] == 2
    assert fake_hub.effects.counts["commit"] == 2 and fake_hub.effects.counts["buy_label"] == 2
    assert [m.split(".", 1)[1] for m in view.messages_sent] == [
        "order-backordered.1",
        "backorder-decided.1",
        "order-shipped.1",
        "order-shipped.2",
        "order-delivered.1",
    ]
    decided = fake_hub.notifier.sent[f"{order.order_id}.backorder-decided.1"]
    assert "Comme vous l'avez demandé" in decided.text  # the customer's locale is fr-FR
    assert not (await placed.handle.describe()).typed_search_attributes.get(BACKORDERED_SKUS)  # waits for nothing


async def test_wait_for_everything_ships_one_parcel_after_the_restock(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"INK-07": 1}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)

    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.CONFIRMED, what="decision applied")
    await asyncio.sleep(0.3)
    assert fake_hub.effects.counts["buy_label"] == 0  # nothing leaves before everything is there
    await _restock(fake_hub, placed, "INK-07", "restock-2")
    shipped = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 1, what="the one parcel")
    view = await _deliver_all(placed.handle, shipped)

    assert _parcels(view) == [({"INK-07": 2, "PEN-01": 1}, order.total)]
    assert view.captured == order.total and fake_hub.effects.counts["capture"] == 1
    assert fake_hub.effects.counts["commit"] == 2  # the first, partial hold and the restocked one


async def test_cancel_the_missing_items_ships_the_rest_and_charges_only_for_it(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)

    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.CANCEL_MISSING))
    shipped = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 1, what="the parcel")
    view = await _deliver_all(placed.handle, shipped)

    assert view.status is OrderStatus.COMPLETED
    assert [(x.sku, x.quantity, x.amount, x.reason) for x in view.canceled_lines] == [
        ("INK-07", 2, 2 * INK, FailureReason.CANCELED_MISSING_ITEMS)
    ]
    assert view.captured == PEN and fake_hub.effects.counts["authorize"] == 1  # nothing left to authorize again
    decided = fake_hub.notifier.sent[f"{order.order_id}.backorder-decided.1"]
    assert "INK-07" in decided.text


async def test_without_an_answer_the_default_applies_and_the_customer_is_told_which(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(
        fake_hub,
        backorder_decision_timeout=timedelta(seconds=1),
        backorder_default=BackorderChoice.CANCEL_MISSING,
    )
    order = make_order()
    placed = await orders.place(order)
    shipped = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 1, what="the parcel")

    assert shipped.backorder is not None
    assert (shipped.backorder.choice, shipped.backorder.decided_by) == (BackorderChoice.CANCEL_MISSING, "default")
    decided = fake_hub.notifier.sent[f"{order.order_id}.backorder-decided.1"]
    assert "Sans réponse de votre part" in decided.text
    with pytest.raises(DecisionRefused, match="already decided"):
        await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    view = await _deliver_all(placed.handle, shipped)
    assert view.captured == PEN


async def test_an_order_with_nothing_in_stock_dropped_by_choice_is_cancelled_and_undone(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"PEN-01": 1, "INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.CANCEL_MISSING))
    view = await orders.result(order.order_id)

    assert view.status is OrderStatus.CANCELED and view.failure_reason is FailureReason.OUT_OF_STOCK
    assert view.compensations == ["payment voided"]  # the hold held nothing: releasing it is no news to tell
    assert [hold.status.value for hold in fake_hub.inventory.holds.values()] == ["released"]
    message = fake_hub.notifier.sent[f"{order.order_id}.order-canceled.1"]
    assert "INK-07" in message.text and "PEN-01" in message.text


async def test_an_authorization_that_would_lapse_while_waiting_is_voided_and_renewed(fake_hub: FakeHub) -> None:
    """Issue 4's 10-day backorder, in seconds: the first parcel is captured at once, what waits is authorized
    again, and each authorization is voided and renewed before it lapses; the last one pays the second parcel."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub, authorization_validity=timedelta(seconds=1))
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))

    await view_when(
        orders,
        order.order_id,
        lambda v: sum(e.step == "renew_authorization" for e in v.timeline) >= 2,
        what="2 renewals",
    )
    await _restock(fake_hub, placed, "INK-07", "restock-3")
    both = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 2, what="second parcel")
    view = await _deliver_all(placed.handle, both)

    payments = list(fake_hub.payments.by_key.values())
    assert len(payments) >= 4  # the order, the remainder, and at least two renewals of it
    assert payments[0].captured == PEN  # the first parcel, captured before anything could lapse
    assert payments[-1].captured == 2 * INK  # the second parcel, from the newest authorization
    assert all(p.state.value == "voided" and p.captured == 0 for p in payments[1:-1])
    assert view.captured == order.total and fake_hub.effects.counts["capture"] == 2


async def test_a_declined_renewal_drops_what_waits_and_says_so(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    fake_hub.effects.reject["authorize"] = "card_declined"  # the card is refused for the remainder
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))

    dropped = await view_when(orders, order.order_id, lambda v: bool(v.canceled_lines), what="lines dropped")
    assert [(x.sku, x.reason) for x in dropped.canceled_lines] == [
        ("INK-07", FailureReason.AUTHORIZATION_RENEWAL_DECLINED)
    ]
    view = await _deliver_all(placed.handle, dropped)
    assert view.status is OrderStatus.COMPLETED and view.captured == PEN
    message = fake_hub.notifier.sent[f"{order.order_id}.items-canceled.1"]
    assert "INK-07" in message.text


async def test_a_customer_may_cancel_while_waiting_for_stock_and_everything_is_undone(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short = {"INK-07": 1}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    canceled = await orders.cancel(order.order_id)

    assert canceled.status is OrderStatus.CANCELED
    assert canceled.failure_reason is FailureReason.CANCELED_BY_CUSTOMER
    assert canceled.compensations == ["stock released", "payment voided"]
    assert fake_hub.effects.counts["capture"] == 0


async def test_an_order_waiting_for_stock_continues_as_new_and_keeps_its_backorder(fake_hub: FakeHub) -> None:
    """Item 7: weeks of waiting (here: renewals every half second) grow the history; the order continues as new
    with its backorder, holds and authorizations, and the customer's restock still finds it."""
    fake_hub.inventory.short = {"INK-07": 2}
    orders = orders_moved_by_scans(fake_hub, authorization_validity=timedelta(milliseconds=500), history_event_limit=60)
    order = make_order()
    placed = await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))

    def continued(view: OrderView) -> bool:
        return any(e.step == "continue_as_new" for e in view.timeline)

    waiting = await view_when(orders, order.order_id, continued, what="continue-as-new")
    assert waiting.backorder is not None and waiting.backorder.choice is BackorderChoice.SHIP_AVAILABLE
    await _restock(fake_hub, placed, "INK-07", "restock-after-can")
    both = await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 2, what="second parcel")
    latest = fake_hub.env.client.get_workflow_handle_for(OrderWorkflow.run, placed.handle.id)
    view = await _deliver_all(latest, both)

    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert fake_hub.effects.counts["capture"] == 2 and fake_hub.effects.counts["buy_label"] == 2
    steps = [e.step for e in view.timeline]
    assert steps.index("reserve_stock") < steps.index("continue_as_new")  # the first run's story is kept


async def test_items_held_in_two_warehouses_ship_as_two_parcels_each_captured_for_its_value(
    fake_hub: FakeHub,
) -> None:
    fake_hub.inventory.locations = {"PEN-01": "LYON", "INK-07": "PARIS"}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    # The parcels are marked captured a moment before the message goes out: wait for both.
    shipped = await view_when(
        orders, order.order_id, lambda v: len(_parcels(v)) == 2 and _told_shipped(v), what="shipped"
    )

    assert _parcels(shipped) == [({"PEN-01": 1}, PEN), ({"INK-07": 2}, 2 * INK)]  # LYON, then PARIS
    payments = list(fake_hub.payments.by_key.values())
    assert [(p.authorized, p.captured) for p in payments] == [(order.total, PEN), (2 * INK, 2 * INK)]
    message = fake_hub.notifier.sent[f"{order.order_id}.order-shipped.1"]  # one message, both tracking codes
    assert all(s.tracking_code and s.tracking_code in message.text for s in shipped.shipments)
    view = await _deliver_all(placed.handle, shipped)
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total
    assert fake_hub.effects.counts["commit"] == 1  # one hold, committed once both parcels are paid


async def test_an_address_change_relabels_every_parcel_the_carrier_has_not_scanned(fake_hub: FakeHub) -> None:
    fake_hub.inventory.locations = {"PEN-01": "LYON", "INK-07": "PARIS"}
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: len(_parcels(v)) == 2, what="two parcels")

    address = AddressChange.model_validate(
        {"shipping_address": {**BASE["shipping_address"], "line1": "9 quai Voltaire"}}
    )
    changed = await orders.change_shipping_address(order.order_id, address)

    live = [s for s in changed.shipments if s.status is not FulfillmentStatus.CANCELED]
    assert [s.shipment_no for s in live] == [3, 4] and all(s.captured for s in live)
    assert all(fake_hub.carrier.requests[s.reference].to_address.line1 == "9 quai Voltaire" for s in live)
    assert fake_hub.effects.counts["void_label"] == 2 and fake_hub.effects.counts["capture"] == 2
    view = await _deliver_all(placed.handle, changed)
    assert view.status is OrderStatus.COMPLETED and view.captured == order.total


async def test_a_cancel_after_a_renewal_returns_the_live_authorization_once(fake_hub: FakeHub) -> None:
    """The renewed authorization was voided when it was renewed: cancelling voids the live one only, and the
    customer is told the order's total came back, not that total twice."""
    fake_hub.inventory.short = {"INK-07": 1}
    orders = orders_moved_by_scans(fake_hub, authorization_validity=timedelta(seconds=1))
    order = make_order()
    await orders.place(order)
    await _backordered(orders, order.order_id)
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.WAIT_FOR_ALL))
    await view_when(
        orders, order.order_id, lambda v: any(e.step == "renew_authorization" for e in v.timeline), what="renewed"
    )

    canceled = await orders.cancel(order.order_id)

    assert canceled.status is OrderStatus.CANCELED
    assert canceled.compensations == ["stock released", "payment voided"]
    sent = f"{order.order_id}.order-canceled.1"
    await view_when(orders, order.order_id, lambda v: sent in v.messages_sent, what="cancellation message")
    message = fake_hub.notifier.sent[sent]
    assert "138,00" in message.text and "276,00" not in message.text, message.text
