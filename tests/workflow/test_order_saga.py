"""OrderWorkflow's saga over in-memory ports: each step's failure is compensated newest first and told once."""

import pytest

from domain.order_view import FailureReason
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from tests.orders import make_order, view_when
from tests.workflow.conftest import FakeHub
from workflows.order import OrderWorkflow


async def test_happy_path_ships_captures_and_completes_on_delivery(fake_hub: FakeHub) -> None:
    order = make_order()
    placed = await fake_hub.orders.place(order)
    view = await placed.handle.result()

    assert view.status is OrderStatus.COMPLETED
    assert view.finished
    assert not (await fake_hub.orders.handle(order.order_id).query(OrderWorkflow.view)).finished
    assert view.payment_status is PaymentStatus.CAPTURED
    assert view.fulfillment_status is FulfillmentStatus.DELIVERED
    counts = fake_hub.effects.counts
    assert (
        counts["authorize"],
        counts["reserve"],
        counts["buy_label"],
        counts["capture"],
        counts["commit"],
    ) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert counts["void"] == counts["release"] == counts["void_label"] == 0
    assert sorted(fake_hub.notifier.sent) == sorted(
        [
            f"{order.order_id}.order-confirmed.1",
            f"{order.order_id}.order-shipped.1",
            f"{order.order_id}.order-delivered.1",
        ]
    )
    assert [s.tracking_code for s in view.shipments] == ["TRK0"]
    steps = [entry.step for entry in view.timeline if entry.outcome == "succeeded"]
    assert steps[:5] == [
        "authorize_payment",
        "reserve_stock",
        "notify_order-confirmed",
        "buy_label",
        "capture_payment",
    ]


@pytest.mark.parametrize(
    ("operation", "code", "reason", "undone"),
    [
        ("authorize", "card_declined", FailureReason.PAYMENT_DECLINED, []),
        (
            "buy_label",
            "SHIPMENT.POSTAGE.FAILURE",
            FailureReason.LABEL_REJECTED,
            ["stock released", "payment voided"],
        ),
        (
            "capture",
            "charge_expired_for_capture",
            FailureReason.CAPTURE_FAILED,
            ["label voided", "stock released", "payment voided"],
        ),
    ],
)
async def test_business_rejection_compensates_in_reverse_and_tells_once(
    fake_hub: FakeHub, operation: str, code: str, reason: FailureReason, undone: list[str]
) -> None:
    fake_hub.effects.reject[operation] = code
    order = make_order()
    view = await (await fake_hub.orders.place(order)).handle.result()

    assert view.status is OrderStatus.CANCELED
    assert view.failure_reason is reason
    assert view.compensations == undone
    assert view.fulfillment_status is FulfillmentStatus.CANCELED
    assert fake_hub.effects.counts["capture"] == 0
    cancel_messages = [m for m in fake_hub.notifier.sent.values() if "order-canceled" in m.notification_id]
    assert len(cancel_messages) == 1


async def test_transient_failures_are_retried_not_compensated(fake_hub: FakeHub) -> None:
    fake_hub.effects.flaky.update({"authorize": 2, "reserve": 2, "buy_label": 2, "capture": 2, "send": 2})
    view = await (await fake_hub.orders.place(make_order())).handle.result()

    assert view.status is OrderStatus.COMPLETED
    assert fake_hub.effects.counts["authorize"] == 1
    assert fake_hub.effects.counts["capture"] == 1


async def test_compensation_that_cannot_finish_leaves_the_order_requiring_action(fake_hub: FakeHub) -> None:
    fake_hub.effects.reject["capture"] = "charge_expired_for_capture"
    fake_hub.effects.reject["void_label"] = "SHIPMENT.REFUND.REJECTED"
    order = make_order()
    placed = await fake_hub.orders.place(order)
    told = f"{order.order_id}.order-canceled.1"
    view = await view_when(fake_hub.orders, order.order_id, lambda v: told in v.messages_sent, what="undone, told")

    assert view.status is OrderStatus.REQUIRES_ACTION
    assert any(e.step == "undo_label" and e.outcome == "failed" for e in view.timeline)
    # The unwind went on past the failed compensation.
    assert view.compensations == ["stock released", "payment voided"]
    # A person voids it (here: the carrier takes it now) and asks the order to retry: it ends cancelled.
    fake_hub.effects.reject.pop("void_label")
    await fake_hub.orders.retry_actions(order.order_id)
    view = await placed.handle.result()
    assert view.status is OrderStatus.CANCELED
    assert view.compensations == ["stock released", "payment voided", "label voided"]
