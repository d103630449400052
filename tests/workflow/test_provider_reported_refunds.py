"""What the payment provider reports about an order's money counts (issue 14, scenario 26): a refund made outside
the hub (the provider's dashboard) reduces what can still be refunded and shows in the view; a refund that fails
later is no longer counted as done, the customer is told it is delayed, once, and a person is asked for; a dispute
asks for a person with its reason."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.events import EventKind, UpstreamEvent
from domain.keys import after_sales_key, authorization_key
from domain.order_view import ActionRequired, OrderView
from domain.returns import AfterSalesKind, ClaimReason, ReturnReceipt, ReturnRequest, ReturnStatus
from domain.status import OrderStatus, PaymentStatus
from hub.client import OrderClient
from tests.eventually import eventually
from tests.orders import make_order, policy, unique_id, view_when
from tests.workflow.conftest import FakeHub
from workflows.search_attributes import ACTION_REASON

CAPTURED = 12900 + 2 * 450


@pytest.fixture
async def delivered(fake_hub: FakeHub) -> AsyncIterator[tuple[OrderClient, str]]:
    """A delivered order whose return window keeps it open for the test."""
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(milliseconds=100), returns={"window": timedelta(minutes=5)}),
    )
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.COMPLETED, what="delivered")
    yield orders, order.order_id
    await placed.handle.terminate("test over")


def _payment_event(
    order_id: str,
    kind: EventKind,
    amount: int,
    *,
    refund_id: str | None = None,
    hub_reference: str | None = None,
    reason: str | None = None,
) -> UpstreamEvent:
    return UpstreamEvent(
        event_id=f"payment:evt_{uuid.uuid4().hex}",
        source="payment",
        kind=kind,
        order_id=order_id,
        occurred_at=datetime.now(UTC),
        amount=amount,
        reason=reason,
        payment_id=f"pi_{order_id}",
        refund_id=refund_id,
        hub_reference=hub_reference,
    )


async def _indexed(orders: OrderClient, order_id: str, reason: ActionRequired) -> None:
    """The reason is searchable (``ActionReason``) once the order has come to rest again."""
    await eventually(
        lambda: orders.handle(order_id).describe(),
        lambda d: d.typed_search_attributes.get(ACTION_REASON) == reason.value,
        what=f"{order_id}: ActionReason {reason.value}",
    )


def _steps(view: OrderView) -> list[tuple[str, str | None]]:
    return [(e.step, e.detail) for e in view.timeline]


async def test_a_refund_made_in_the_providers_dashboard_counts_once_and_caps_what_a_return_may_refund(
    fake_hub: FakeHub, delivered: tuple[OrderClient, str]
) -> None:
    """Issue 14, scenario 26: 50 € refunded from the dashboard (reported twice, as Stripe does) shows as refunded
    and leaves 88 € that a later return of the 129 € pen may refund, never more than was captured."""
    orders, order_id = delivered
    dashboard = _payment_event(order_id, EventKind.REFUND_SUCCEEDED, 5000, refund_id="re_dashboard")
    await orders.record_event(dashboard)
    await orders.record_event(dashboard.model_copy(update={"event_id": f"payment:evt_{uuid.uuid4().hex}"}))

    view = await view_when(orders, order_id, lambda v: v.refunded > 0, what="the dashboard refund counted")
    assert (view.refunded, view.payment_status) == (5000, PaymentStatus.PARTIALLY_REFUNDED)

    rma_id = unique_id("RMA")
    request = ReturnRequest(rma_id=rma_id, kind=AfterSalesKind.RETURN, lines=[{"sku": "PEN-01", "quantity": 1}])
    await orders.open_return(order_id, request)
    await orders.record_receipt(rma_id, ReturnReceipt(received_via="api"))
    rma = await orders.return_handle(rma_id).result()
    assert rma.refunded == CAPTURED - 5000
    payment = fake_hub.payments.by_key[authorization_key(order_id, 1)]
    assert payment.refunded == CAPTURED  # the dashboard's and the hub's together: all that was captured, no more
    after = await view_when(orders, order_id, lambda v: v.refunded == CAPTURED, what="everything refunded")
    assert after.payment_status is PaymentStatus.REFUNDED


async def test_a_refund_that_fails_after_it_was_counted_is_reversed_told_once_and_needs_a_person(
    fake_hub: FakeHub, delivered: tuple[OrderClient, str]
) -> None:
    """Issue 14, scenario 26: a claim's refund reported failed by the provider (twice) after the claim ended: the
    view no longer counts it, the order requires action with the reason, the customer is told it is delayed once."""
    orders, order_id = delivered
    rma_id = unique_id("RMA")
    claim = ReturnRequest(
        rma_id=rma_id,
        kind=AfterSalesKind.CLAIM,
        claim_reason=ClaimReason.DAMAGED,
        lines=[{"sku": "INK-07", "quantity": 2}],
    )
    await orders.open_return(order_id, claim)
    assert (await orders.return_handle(rma_id).result()).status is ReturnStatus.REFUNDED
    await view_when(orders, order_id, lambda v: v.refunded == 900, what="the claim's refund counted")

    reference = after_sales_key(order_id, rma_id, "refund", 1)
    failed = _payment_event(
        order_id, EventKind.REFUND_FAILED, 900, refund_id="re_claim", hub_reference=reference, reason="card_expired"
    )
    await orders.record_event(failed)
    await orders.record_event(failed.model_copy(update={"event_id": f"payment:evt_{uuid.uuid4().hex}"}))

    view = await view_when(
        orders,
        order_id,
        lambda v: v.status is OrderStatus.REQUIRES_ACTION and any(".refund-delayed." in m for m in v.messages_sent),
        what="refund failure counted and told",
    )
    assert (view.refunded, view.payment_status) == (0, PaymentStatus.CAPTURED)
    assert view.action_required == [ActionRequired.REFUND_FAILED]
    assert [m for m in view.messages_sent if ".refund-delayed." in m] == [f"{order_id}.refund-delayed.1"]
    mail = fake_hub.notifier.sent[f"{order_id}.refund-delayed.1"]
    assert "9,00\u00a0€" in mail.text  # the customer of the test orders reads French
    await _indexed(orders, order_id, ActionRequired.REFUND_FAILED)


async def test_a_dispute_puts_the_order_in_requires_action_with_its_reason(
    fake_hub: FakeHub, delivered: tuple[OrderClient, str]
) -> None:
    """Issue 14, scenario 26: the cardholder disputes the charge: a person must answer it."""
    orders, order_id = delivered
    await orders.record_event(_payment_event(order_id, EventKind.DISPUTE_OPENED, CAPTURED, reason="fraudulent"))

    view = await view_when(orders, order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, what="disputed")
    assert view.action_required == [ActionRequired.PAYMENT_DISPUTED]
    assert ("dispute", "opened: fraudulent, 138.00 EUR") in _steps(view)
    await _indexed(orders, order_id, ActionRequired.PAYMENT_DISPUTED)
