"""Issue 4's refund arithmetic across split shipments, judged by the sandbox ledger: an order ships in two
parcels (one waited for stock), each captured on its own authorization; a return then takes back one item from
each parcel, one of them damaged. The refund is drawn from the oldest payment first, spans both, and what the
customer finally pays is exactly what they keep plus the damaged item's retained share."""

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from domain.backorder import BackorderChoice, BackorderDecision
from domain.events import EventKind, StockEvent
from domain.returns import ReturnPolicy, ReturnReceipt, ReturnRequest, ReturnStatus
from domain.status import OrderStatus, PaymentStatus
from hub.client import OrderClient
from tests.integration.conftest import LiveHub
from tests.orders import make_order, policy, unique_id, view_when
from workflows.order import OrderWorkflow

PEN, LAMP, SHADE = 12900, 8000, 3000


async def test_a_return_across_two_parcels_refunds_the_right_amount_from_both_payments(
    live_hub: LiveHub, temporal_client: Client
) -> None:
    lamp, shade = unique_id("LAMP"), unique_id("SHADE")
    for sku in (lamp, shade):
        await live_hub.control.set_stock(sku, 0)
    orders = OrderClient(
        temporal_client,
        task_queue=live_hub.orders.task_queue,
        policy=policy(
            tracking_poll_interval=timedelta(milliseconds=500),
            returns=ReturnPolicy(window=timedelta(hours=1), damaged_refund_percent=50),
        ),
    )
    order = make_order(
        lines=[
            {"sku": "PEN-01", "quantity": 1, "unit_price": PEN},
            {"sku": lamp, "quantity": 1, "unit_price": LAMP},
            {"sku": shade, "quantity": 1, "unit_price": SHADE},
        ]
    )
    placed = await orders.place(order)
    try:
        await view_when(
            orders,
            order.order_id,
            lambda v: v.status is OrderStatus.REQUIRES_ACTION,
            what="asking about stock",
            timeout_s=60,
        )
        await orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.SHIP_AVAILABLE))
        await view_when(
            orders,
            order.order_id,
            lambda v: any(s.captured for s in v.shipments),
            what="first parcel paid",
            timeout_s=60,
        )
        for sku in (lamp, shade):
            await live_hub.control.set_stock(sku, 3)
        back = StockEvent(
            event_id=f"erp:{lamp}", kind=EventKind.STOCK_CHANGED, sku=lamp, available=3, occurred_at=datetime.now(UTC)
        )
        await placed.handle.signal(OrderWorkflow.stock_changed, back)
        delivered = await view_when(
            orders, order.order_id, lambda v: v.status is OrderStatus.COMPLETED, what="delivered", timeout_s=60
        )
        assert [s.value for s in delivered.shipments if s.captured] == [PEN, LAMP + SHADE]

        request = ReturnRequest.model_validate(
            {"rma_id": unique_id("RMA"), "lines": [{"sku": "PEN-01", "quantity": 1}, {"sku": lamp, "quantity": 1}]}
        )
        await orders.open_return(order.order_id, request)
        await view_when(orders, order.order_id, lambda v: bool(v.returns), what="RMA opened", timeout_s=60)
        receipt = ReturnReceipt.model_validate(
            {"lines": [{"sku": "PEN-01", "quantity": 1}, {"sku": lamp, "quantity": 1, "disposition": "damaged"}]}
        )
        rma = await asyncio.wait_for(orders.record_receipt(request.rma_id, receipt), 60)

        refund = PEN + LAMP * 50 // 100
        assert (rma.status, rma.refunded) == (ReturnStatus.REFUNDED, refund)
        ledger = await live_hub.control.ledger(order.order_id)
        refunds = sorted(e["amount"] for e in ledger["effects"] if e["effect"] == "refund")
        assert refunds == sorted([PEN, refund - PEN])  # the first payment in full, the rest from the second
        kept = SHADE + LAMP - LAMP * 50 // 100  # the shade, and the damaged lamp's retained half
        assert ledger["payment"]["captured"] - ledger["payment"]["refunded"] == kept
        after = await view_when(
            orders,
            order.order_id,
            lambda v: v.payment_status is PaymentStatus.PARTIALLY_REFUNDED,
            what="told of refund",
            timeout_s=60,
        )
        assert after.refunded == refund and after.captured == order.total
        await live_hub.assert_books_balance(order, after)
    finally:
        await placed.handle.terminate("test over: the order would stay open through its return window")
