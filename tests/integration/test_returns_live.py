"""A return over the real stack: the order's workflow opens it, the production adapters buy the return label at
the (sandbox) carrier, report the receipt to the ERP and refund through the payment provider. The ledger, not
the hub's view, shows that the customer ends up paying exactly for what they keep."""

import asyncio
from datetime import timedelta

from temporalio.client import Client

from domain.order_view import OrderPolicy
from domain.returns import ReturnPolicy, ReturnReceipt, ReturnRequest, ReturnStatus
from domain.status import PaymentStatus
from hub.client import OrderClient
from tests.eventually import eventually
from tests.integration.conftest import LiveHub
from tests.orders import make_order, unique_id, view_when


async def test_a_return_refunds_what_came_back_and_the_customer_pays_for_what_they_keep(
    live_hub: LiveHub, temporal_client: Client
) -> None:
    orders = OrderClient(
        temporal_client,
        task_queue=live_hub.orders.task_queue,
        policy=OrderPolicy(
            tracking_poll_interval=timedelta(milliseconds=500),
            returns=ReturnPolicy(window=timedelta(hours=1), damaged_refund_percent=50),
        ),
    )
    order = make_order()  # PEN-01 x1 at 129.00, INK-07 x2 at 4.50: 138.00 EUR
    placed = await orders.place(order)
    try:
        await view_when(orders, order.order_id, lambda view: view.delivered_at is not None, what="delivered")
        request = ReturnRequest.model_validate(
            {
                "rma_id": unique_id("RMA"),
                "lines": [{"sku": "PEN-01", "quantity": 1}, {"sku": "INK-07", "quantity": 1}],
                "channel": "phone",
            }
        )
        opened = await orders.open_return(order.order_id, request)
        assert opened.created and opened.view.status is ReturnStatus.REQUESTED
        await eventually(
            lambda: orders.return_view(request.rma_id),
            lambda rma: rma.status is not ReturnStatus.REQUESTED,
            what=f"{request.rma_id} labelled",
            show=lambda rma: rma.status,
        )
        receipt = ReturnReceipt.model_validate(
            {
                "received_via": "store",
                "lines": [
                    {"sku": "PEN-01", "quantity": 1},
                    {"sku": "INK-07", "quantity": 1, "disposition": "damaged"},
                ],
            }
        )
        view = await asyncio.wait_for(orders.record_receipt(request.rma_id, receipt), 60)

        refund = 12900 + 450 * 50 // 100
        assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, refund)
        ledger = await live_hub.control.ledger(order.order_id)
        kept = 450 + (450 - 450 * 50 // 100)  # one ink kept whole, the damaged one paid for its lost share
        assert ledger["payment"]["captured"] - ledger["payment"]["refunded"] == order.total - refund == kept
        # Handed in at a store, the unused return label is voided: the retailer pays only for labels that carry a
        # parcel (issue 14, scenario 30).
        assert ledger["return_labels"] == {"bought": 1, "voided": 1}
        assert ledger["returns"] == {"received": 2}
        mail = await live_hub.control.mail(order.order_id)
        assert view.return_shipment is not None and view.return_shipment.label_url
        assert any(view.return_shipment.label_url in m["body"] for m in mail)
        await view_when(
            orders,
            order.order_id,
            lambda view: view.payment_status is PaymentStatus.PARTIALLY_REFUNDED,
            what="told of the refund",
        )
    finally:
        await placed.handle.terminate("test over: the order would stay open through its return window")
