"""Issue 4: an authorization expires during a long backorder. Against the sandbox's Stripe and ERP: the parcel that
can leave is captured at once (long before any authorization lapses), what waits is authorized again and renewed
(void, then authorize) each time it would lapse, and the second parcel is paid from the newest authorization. The
ledger, not the workflow, says the money is right. Ten days are played in seconds (``authorization_validity``)."""

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from domain.backorder import BackorderChoice, BackorderDecision
from domain.events import EventKind, StockEvent
from domain.order_view import OrderView
from domain.status import OrderStatus
from hub.client import OrderClient
from tests.integration.conftest import LiveHub
from tests.orders import make_order, policy, unique_id, view_when
from workflows.order import OrderWorkflow

PEN, LAMP = 12900, 8000


async def test_a_long_backorder_captures_what_shipped_and_renews_the_rest_before_it_lapses(
    live_hub: LiveHub, temporal_client: Client
) -> None:
    lamp = unique_id("LAMP")
    await live_hub.control.set_stock(lamp, 0, restock_date="2026-12-03")
    orders = OrderClient(
        temporal_client,
        task_queue=live_hub.orders.task_queue,
        policy=policy(
            tracking_poll_interval=timedelta(milliseconds=500),
            authorization_validity=timedelta(seconds=1),  # "7 days" of card validity
            backorder_recheck_interval=timedelta(hours=1),  # only the ERP's event wakes it
        ),
    )
    order = make_order(
        lines=[{"sku": "PEN-01", "quantity": 1, "unit_price": PEN}, {"sku": lamp, "quantity": 2, "unit_price": LAMP}]
    )
    placed = await orders.place(order)
    await view_when(
        orders,
        order.order_id,
        lambda v: v.status is OrderStatus.REQUIRES_ACTION,
        what="asking about stock",
        timeout_s=60,
    )
    await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))

    def renewed_twice(view: OrderView) -> bool:
        return sum(e.step == "renew_authorization" for e in view.timeline) >= 2

    waiting = await view_when(orders, order.order_id, renewed_twice, what="authorization renewed twice", timeout_s=60)
    assert [s.value for s in waiting.shipments if s.captured] == [PEN]  # shipped and paid before anything lapsed

    await live_hub.control.set_stock(lamp, 5)
    restocked = StockEvent(
        event_id=f"erp:{lamp}-back", kind=EventKind.STOCK_CHANGED, sku=lamp, available=5, occurred_at=datetime.now(UTC)
    )
    await placed.handle.signal(OrderWorkflow.stock_changed, restocked)
    view = await asyncio.wait_for(placed.handle.result(), 60)

    assert view.status is OrderStatus.COMPLETED
    ledger = await live_hub.control.ledger(order.order_id)
    pay = ledger["payment"]
    authorizations = [e for e in ledger["effects"] if e["effect"] == "authorize"]
    assert len(authorizations) >= 4  # the order; the remainder; two or more renewals of the remainder
    assert [a["amount"] for a in authorizations] == [PEN + 2 * LAMP] + [2 * LAMP] * (len(authorizations) - 1)
    assert pay["captured"] == order.total and pay["refunded"] == 0
    # Every cent authorized was captured or released: the first parcel's remainder and each lapsed renewal.
    assert pay["authorized"] == pay["captured"] + pay["voided"]
    assert [s.value for s in view.shipments if s.captured] == [PEN, 2 * LAMP]
    await live_hub.assert_books_balance(order, view)
