"""Messages the provider refuses (issue 14, "Messages" and "Liveness"): the customer is told once when something
goes wrong. A cancellation that cannot be delivered is not left on the timeline for nobody: the order waits for a
person, ``requires_action`` with ``customer not told`` indexed, and the operator's retry sends the same message
again under the same notification id."""

import asyncio

from domain.order_view import ActionRequired, FailureReason
from domain.status import OrderStatus
from tests.eventually import eventually
from tests.orders import make_order, view_when
from tests.workflow.conftest import FakeHub, orders_moved_by_scans
from workflows.search_attributes import ACTION_REASON

ANSWER_BOUND_S = 20  # an Update that has not answered by then never will: a bound, not a timing assertion


async def test_a_cancellation_the_provider_refuses_to_send_waits_for_a_person_and_is_sent_again_on_retry(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, fuzz seeds 240, 4755, 4810, 4961 (``refuse.send``): the card is declined, so the order is cancelled,
    and the email provider refuses the cancellation message. Before, the order ended cancelled with the customer
    never told and nobody asked to tell them. Now it rests ``requires_action`` (``customer not told``, indexed), and
    the operator's retry sends the cancellation under the same notification id and ends the order cancelled."""
    fake_hub.effects.reject["authorize"] = "card_declined"
    fake_hub.effects.reject["send"] = "mailbox_unavailable"
    orders = orders_moved_by_scans(fake_hub)
    order = make_order()
    placed = await orders.place(order)

    waiting = await view_when(
        orders, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="requires_action"
    )
    assert waiting.action_required == [ActionRequired.CUSTOMER_NOT_TOLD]
    assert waiting.failure_reason is FailureReason.PAYMENT_DECLINED
    assert waiting.messages_sent == []

    async def indexed() -> object:
        return (await placed.handle.describe()).typed_search_attributes.get(ACTION_REASON)

    await eventually(indexed, lambda reason: reason == "customer not told", what="customer not told indexed")
    still = await orders.retry_actions(order.order_id)  # refused again: the order says so and waits on
    assert still.status is OrderStatus.REQUIRES_ACTION
    assert still.action_required == [ActionRequired.CUSTOMER_NOT_TOLD]

    fake_hub.effects.reject.pop("send")
    retried = await orders.retry_actions(order.order_id)
    view = await asyncio.wait_for(placed.handle.result(), ANSWER_BOUND_S)

    assert retried.status is OrderStatus.CANCELED and retried.action_required == []
    assert view.status is OrderStatus.CANCELED
    assert view.messages_sent == [f"{order.order_id}.order-canceled.1"]
    assert [m["message_id"] for m in fake_hub.notifier.mail(order.order_id)] == [
        f"<{order.order_id}.order-canceled.1@fake>"
    ]
