"""Issue 2 acceptance over the real stack: dev server, production adapters, sandbox upstreams, SMTP sink."""

from typing import Any

import pytest
from temporalio.client import Client

from domain.backorder import BackorderChoice, BackorderDecision
from domain.contract import order_workflow_id
from domain.order_view import FailureReason
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client import DecisionRefused
from tests.eventually import eventually
from tests.integration.conftest import LiveHub
from tests.orders import make_order, unique_id, view_when


async def test_happy_path_charges_the_total_commits_stock_buys_one_label_and_mails_three_times(
    live_hub: LiveHub,
) -> None:
    order = make_order()
    await live_hub.orders.place(order)
    view, ledger, mail = await live_hub.settle(order)

    assert (view.status, view.payment_status, view.fulfillment_status) == (
        OrderStatus.COMPLETED,
        PaymentStatus.CAPTURED,
        FulfillmentStatus.DELIVERED,
    )
    assert ledger["payment"]["captured"] == order.total == 12900 + 2 * 450
    assert ledger["payment"]["refunded"] == 0
    assert ledger["inventory"]["committed"] == 3
    assert ledger["labels"] == {"bought": 1, "voided": 0}
    assert sorted(m["subject"] for m in mail) == sorted(
        [
            f"Commande {order.order_id} confirmée",
            f"Votre commande {order.order_id} est expédiée",
            f"Commande {order.order_id} livrée",
        ]
    )
    shipped = next(m for m in mail if "expédiée" in m["subject"])
    assert view.shipments[0].tracking_code and view.shipments[0].tracking_code in shipped["body"]
    await live_hub.assert_books_balance(order, view)


FAILURES: dict[str, tuple[dict[str, Any], list[dict[str, Any]], FailureReason]] = {
    "declined at authorize": (
        {"payment_method": "pm_card_chargeDeclined"},
        [],
        FailureReason.PAYMENT_DECLINED,
    ),
    # Nothing in stock and the customer drops what is missing (story 4): nothing is left to ship.
    "shortage at reserve": (
        {"lines": [{"sku": "SOLDOUT-1", "quantity": 2, "unit_price": 1000}]},
        [],
        FailureReason.OUT_OF_STOCK,
    ),
    "label rejected": (
        {},
        [
            {
                "upstream": "carrier",
                "operation": "shipment.buy",
                "reject": {"code": "SHIPMENT.POSTAGE.FAILURE", "message": "no"},
            }
        ],
        FailureReason.LABEL_REJECTED,
    ),
    "capture failed": (
        {},
        [
            {
                "upstream": "payment",
                "operation": "capture",
                "reject": {"code": "charge_expired_for_capture", "message": "expired"},
            }
        ],
        FailureReason.CAPTURE_FAILED,
    ),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
async def test_business_failure_ends_cancelled_with_books_balanced_and_one_message(
    live_hub: LiveHub, case: str
) -> None:
    changes, rules, reason = FAILURES[case]
    order = make_order(**changes)
    await live_hub.control.set_stock("SOLDOUT-1", 0)
    await live_hub.control.set_faults([{**rule, "order_prefix": order.order_id} for rule in rules])
    await live_hub.orders.place(order)
    if reason is FailureReason.OUT_OF_STOCK:
        await view_when(
            live_hub.orders,
            order.order_id,
            lambda view: view.status is OrderStatus.REQUIRES_ACTION,
            what="the customer asked about the missing items",
        )
        await live_hub.orders.decide_backorder(order.order_id, BackorderDecision(choice=BackorderChoice.CANCEL_MISSING))
    view, ledger, mail = await live_hub.settle(order)

    assert view.status is OrderStatus.CANCELED
    assert view.failure_reason is reason
    assert ledger["payment"]["captured"] - ledger["payment"]["refunded"] == 0
    assert ledger["payment"]["authorized"] == ledger["payment"]["voided"]
    assert ledger["inventory"]["reserved"] == ledger["inventory"]["released"]
    assert ledger["labels"]["bought"] == ledger["labels"]["voided"]
    cancellations = [m for m in mail if "annulée" in m["subject"]]
    assert len(cancellations) == 1
    await live_hub.assert_books_balance(order, view)


async def test_failure_message_names_the_reason_and_what_was_undone(live_hub: LiveHub) -> None:
    order = make_order(customer={"id": "C-7", "email": "bo@example.com", "name": "Bo", "locale": "en-GB"})
    await live_hub.control.set_faults(
        [
            {
                "upstream": "payment",
                "operation": "capture",
                "order_prefix": order.order_id,
                "reject": {"code": "charge_expired_for_capture", "message": "expired"},
            }
        ]
    )
    await live_hub.orders.place(order)
    view, _, mail = await live_hub.settle(order)

    [message] = [m for m in mail if "cancelled" in m["subject"]]
    assert "we could not collect the payment" in message["body"]
    assert "authorization of €138.00" in message["body"] and "no money was taken" in message["body"]
    assert "shipping label" in message["body"] and "released" in message["body"]
    assert view.compensations == ["label voided", "stock released", "payment voided"]


async def test_cancel_before_shipping_undoes_everything(live_hub: LiveHub) -> None:
    order = make_order()
    await live_hub.control.set_faults(
        [{"upstream": "erp", "operation": "hold.put", "order_prefix": order.order_id, "latency_ms": 1500}]
    )
    await live_hub.orders.place(order)
    await view_when(
        live_hub.orders, order.order_id, lambda view: view.payment_status is PaymentStatus.AUTHORIZED, what="authorized"
    )
    cancelled = await live_hub.orders.cancel(order.order_id)
    view, _, mail = await live_hub.settle(order)

    assert cancelled.status is OrderStatus.CANCELED
    assert view.failure_reason is FailureReason.CANCELED_BY_CUSTOMER
    assert [m["subject"] for m in mail] == [f"Commande {order.order_id} annulée"]  # no confirmation first
    await live_hub.assert_books_balance(order, view)


async def test_cancel_is_rejected_with_a_reason_once_shipped(live_hub: LiveHub, temporal_client: Client) -> None:
    order = make_order()
    placed = await live_hub.orders.place(order)
    await view_when(
        live_hub.orders, order.order_id, lambda view: view.payment_status is PaymentStatus.CAPTURED, what="shipped"
    )
    with pytest.raises(DecisionRefused, match="shipped"):
        await live_hub.orders.cancel(order.order_id)
    view = await placed.handle.result()
    assert view.status is OrderStatus.COMPLETED
    # The rejected update never entered the history.
    history = await placed.handle.fetch_history()
    assert not [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]


async def test_visible_in_temporal_by_status_and_customer_without_pii(
    live_hub: LiveHub, temporal_client: Client
) -> None:
    customer_id = unique_id("C")
    order = make_order(
        customer={
            "id": customer_id,
            "email": "secret.person@example.com",
            "name": "Secret Person",
            "locale": "en",
        }
    )
    await live_hub.orders.place(order)
    await live_hub.settle(order)

    async def listed() -> list[str]:
        query = f'CustomerId = "{customer_id}" AND OrderStatus = "completed"'
        return [w.id async for w in temporal_client.list_workflows(query)]

    await eventually(
        listed, lambda ids: ids == [order_workflow_id(order.order_id)], what=f"{order.order_id} listed as completed"
    )
    description = await live_hub.orders.handle(order.order_id).describe()
    visible = f"{description.id} {description.typed_search_attributes}"
    for pii in ("secret.person@example.com", "Secret Person", "rue des Lilas"):
        assert pii not in visible


async def test_query_reports_three_statuses_and_a_timeline(live_hub: LiveHub) -> None:
    order = make_order()
    await live_hub.orders.place(order)
    await live_hub.settle(order)
    view = await live_hub.orders.view(order.order_id)

    steps = [(e.step, e.outcome) for e in view.timeline]
    for step in ("authorize_payment", "reserve_stock", "buy_label", "capture_payment", "commit_stock"):
        assert (step, "succeeded") in steps
    assert ("order_status", "info") in steps
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)
