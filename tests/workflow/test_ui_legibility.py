"""Issue 6, item 1: an engineer understands an order in the Temporal UI without decoding a payload: search
attributes for every status dimension, the total and the channel; a summary on every activity; the workflow's
current details saying what it is doing now."""

import json

from domain.status import OrderStatus, PaymentStatus
from tests.orders import make_order, view_when
from tests.workflow.conftest import FakeHub
from workflows.search_attributes import (
    CHANNEL,
    CUSTOMER_ID,
    FULFILLMENT_STATUS,
    ORDER_STATUS,
    ORDER_TOTAL,
    PAYMENT_STATUS,
)


async def test_statuses_summaries_and_current_details_are_legible(fake_hub: FakeHub) -> None:
    fake_hub.carrier.deliver_after_polls = 10_000  # the parcel stays on its way while we look
    order = make_order(channel="phone")
    placed = await fake_hub.orders.place(order)
    await view_when(
        fake_hub.orders,
        order.order_id,
        lambda v: v.payment_status is PaymentStatus.CAPTURED and v.fulfillment_status.value == "in_transit",
        what="captured and in transit",
    )

    attributes = (await placed.handle.describe()).typed_search_attributes
    assert attributes.get(ORDER_STATUS) == OrderStatus.CONFIRMED.value
    assert attributes.get(PAYMENT_STATUS) == "captured" and attributes.get(FULFILLMENT_STATUS) == "in_transit"
    assert (attributes.get(ORDER_TOTAL), attributes.get(CHANNEL)) == (order.total, "phone")
    assert attributes.get(CUSTOMER_ID) == order.customer.id

    history = await placed.handle.fetch_history()
    summaries = [
        json.loads(event.user_metadata.summary.data)
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes") and event.user_metadata.HasField("summary")
    ]
    steps = [summary for summary in summaries if not summary.startswith("Publishing")]
    assert steps[:2] == [
        "Authorizing 138.00 EUR (authorization 1)",
        f"Holding 3 units as {order.order_id}:inventory.hold:1",
    ]
    assert "Capturing 138.00 EUR for shipment 1" in steps
    assert any(summary.startswith("Publishing") for summary in summaries)  # status events to the retailer
    assert "Telling the customer: order-shipped" in summaries

    metadata = await placed.handle.query("__temporal_workflow_metadata")
    assert metadata.current_details.startswith("Following shipment 1 in_transit until delivered")
    await placed.handle.terminate("test over")
