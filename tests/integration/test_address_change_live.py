"""Changing the address after the label is printed, through the real EasyPost adapter: the unused label is
voided at the carrier and a new one bought, unless the carrier refuses, and the books stay right."""

from datetime import timedelta

import pytest
from temporalio.client import Client

from domain.order_view import ActionRequired, AddressChange
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import DecisionRefused, OrderClient
from tests.integration.conftest import LiveHub
from tests.orders import BASE, make_order, policy, view_when

NEW_ADDRESS = AddressChange.model_validate(
    {"shipping_address": {**BASE["shipping_address"], "line1": "10 avenue Foch"}}
)


def _orders(live_hub: LiveHub, temporal_client: Client) -> OrderClient:
    # Tracking polled every second: the sandbox's parcels are scanned a second after their label is bought.
    return OrderClient(
        temporal_client,
        task_queue=live_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(seconds=1)),
    )


async def _paid_and_labelled(orders: OrderClient, order_id: str) -> None:
    await view_when(orders, order_id, lambda view: view.payment_status is PaymentStatus.CAPTURED, what="captured")


async def test_the_unused_label_is_voided_and_the_parcel_ships_on_a_new_one(
    live_hub: LiveHub, temporal_client: Client
) -> None:
    orders = _orders(live_hub, temporal_client)
    order = make_order()
    await orders.place(order)
    await _paid_and_labelled(orders, order.order_id)

    changed = await orders.change_shipping_address(order.order_id, NEW_ADDRESS)
    assert [s.status for s in changed.shipments] == [FulfillmentStatus.CANCELED, FulfillmentStatus.LABEL_CREATED]
    view, ledger, mail = await live_hub.settle(order)

    assert view.status is OrderStatus.COMPLETED
    assert ledger["labels"] == {"bought": 2, "voided": 1}
    assert ledger["payment"]["captured"] == order.total
    shipped = sorted((m for m in mail if "expédiée" in m["subject"]), key=lambda m: m["message_id"])
    assert view.shipments[-1].tracking_code in shipped[-1]["body"]
    await live_hub.assert_books_balance(order, view)


async def test_the_address_stays_when_the_carrier_refuses_to_void_the_label(
    live_hub: LiveHub, temporal_client: Client
) -> None:
    orders = _orders(live_hub, temporal_client)
    order = make_order()
    await live_hub.control.set_faults(
        [
            {
                "upstream": "carrier",
                "operation": "shipment.refund",
                "order_prefix": order.order_id,
                "reject": {"code": "SHIPMENT.REFUND.REJECTED", "message": "label already used"},
            }
        ]
    )
    await orders.place(order)
    await _paid_and_labelled(orders, order.order_id)

    with pytest.raises(DecisionRefused, match="the carrier would not cancel the label"):
        await orders.change_shipping_address(order.order_id, NEW_ADDRESS)
    # The parcel ships on its old label. The label bought for the new address (bought first, so the parcel is never
    # without one) cannot be voided either: the retailer would pay for it, so a person is asked, and stays asked
    # once the parcel is delivered.
    waiting = await view_when(
        orders,
        order.order_id,
        lambda view: view.fulfillment_status is FulfillmentStatus.DELIVERED,
        what="delivered on the old label",
    )
    assert (waiting.status, waiting.action_required) == (
        OrderStatus.REQUIRES_ACTION,
        [ActionRequired.LABEL_VOID_REFUSED],
    )
    assert (await live_hub.control.ledger(order.order_id))["labels"] == {"bought": 2, "voided": 0}

    await live_hub.control.clear_faults()  # the carrier agrees; the operator retries
    await orders.retry_actions(order.order_id)
    view, ledger, _ = await live_hub.settle(order)
    assert view.status is OrderStatus.COMPLETED
    assert ledger["labels"] == {"bought": 2, "voided": 1}
    await live_hub.assert_books_balance(order, view)
