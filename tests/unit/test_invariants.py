"""The one checker (``hub.dev.invariants``), offline: a clean order passes, and each invariant family reports the
broken books planted for it. Without these a checker that always answers "nothing wrong" would pass every run."""

from collections.abc import Callable
from typing import Any

import pytest

from domain.order import OrderLine
from domain.order_view import ActionRequired, OrderView
from domain.returns import ReturnStatus, ReturnView
from domain.shipments import ShipmentView
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from domain.timeline import TimelineEntry
from hub.dev.invariants import Books, Family, check
from sandbox.ledger import Ledger

PEN = OrderLine(sku="PEN-01", quantity=1, unit_price=12900)
INK = OrderLine(sku="INK-07", quantity=2, unit_price=450)
TOTAL = 13800
ORDER = "A-1"
SENT = [f"{ORDER}.order-confirmed.1", f"{ORDER}.order-shipped.1", f"{ORDER}.order-delivered.1"]


def delivered_view(**changes: Any) -> OrderView:
    shipment = ShipmentView(
        shipment_no=1,
        reference=f"{ORDER}:shipment:1",
        status=FulfillmentStatus.DELIVERED,
        tracking_code="TRK1",
        lines=[PEN, INK],
        value=TOTAL,
        captured=True,
    )
    view = OrderView(
        order_id=ORDER,
        customer_id="C-1",
        currency="EUR",
        total=TOTAL,
        lines=[PEN, INK],
        status=OrderStatus.COMPLETED,
        payment_status=PaymentStatus.CAPTURED,
        fulfillment_status=FulfillmentStatus.DELIVERED,
        shipments=[shipment],
        captured=TOTAL,
        messages_sent=SENT,
        finished=True,
    )
    return view.model_copy(update=changes)


def delivered_ledger() -> Ledger:
    ledger = Ledger()
    ledger.record(ORDER, "payment", "authorize", amount=TOTAL, idempotency_key=f"{ORDER}:payment.authorize:1")
    ledger.record(ORDER, "erp", "reserve", units=3, idempotency_key=f"{ORDER}:inventory.hold:1")
    ledger.record(ORDER, "carrier", "label.buy", idempotency_key=f"{ORDER}:shipment:1")
    ledger.record(ORDER, "payment", "capture", amount=TOTAL, idempotency_key=f"{ORDER}:payment.capture:1")
    ledger.record(ORDER, "erp", "commit", units=3, idempotency_key=f"{ORDER}:inventory.hold:1")
    return ledger


def mail(ids: list[str], text: str = "") -> list[dict[str, Any]]:
    return [{"message_id": f"<{i}@hub.example>", "body": text, "conflicting": False} for i in ids]


def books(ledger: Ledger, sent: list[str] = SENT, **kwargs: Any) -> Books:
    return Books.from_ledger(ledger.view(ORDER), mail(sent), **kwargs)


def families(view: OrderView, books: Books, rmas: list[ReturnView] | None = None, **kwargs: Any) -> set[Family]:
    return {v.family for v in check(view, books, rmas or [], **kwargs)}


def test_a_clean_delivered_order_passes() -> None:
    assert check(delivered_view(), books(delivered_ledger())) == []


def test_a_clean_cancelled_order_passes() -> None:
    ledger = Ledger()
    ledger.record(ORDER, "payment", "authorize", amount=TOTAL, idempotency_key="k1")
    ledger.record(ORDER, "payment", "void", amount=TOTAL, idempotency_key="k1")
    view = delivered_view(
        status=OrderStatus.CANCELED, shipments=[], captured=0, messages_sent=[f"{ORDER}.order-canceled.1"]
    )
    assert check(view, books(ledger, view.messages_sent)) == []


def test_a_committed_hold_booked_back_on_hand_is_neither_left_nor_returned_and_an_unbooked_one_is_reported() -> None:
    """A cancelled order whose hold the ERP committed (then could not release): the undo books it back on hand as
    a return receipt named after the hold. That undoes the commit; without the receipt the stock is reported."""
    ledger = Ledger()
    ledger.record(ORDER, "payment", "authorize", amount=TOTAL, idempotency_key="k1")
    ledger.record(ORDER, "payment", "void", amount=TOTAL, idempotency_key="k1")
    ledger.record(ORDER, "erp", "reserve", units=3, idempotency_key=f"{ORDER}:inventory.hold:1")
    ledger.record(ORDER, "erp", "commit", units=3, idempotency_key=f"{ORDER}:inventory.hold:1")
    view = delivered_view(
        status=OrderStatus.CANCELED, shipments=[], captured=0, messages_sent=[f"{ORDER}.order-canceled.1"]
    )
    assert families(view, books(ledger, view.messages_sent)) == {Family.STOCK}
    ledger.record(ORDER, "erp", "return.receive", units=3, idempotency_key=f"{ORDER}:inventory.hold-back:1")
    assert check(view, books(ledger, view.messages_sent)) == []


def test_a_returned_parcel_unreported_is_reported_unless_a_person_is_asked_to_report_it() -> None:
    """Goods sent back by the carrier must be booked by the ERP; while the order waits for a person because the
    ERP refused that receipt (``returned parcel not reported``), the gap is what the reason says, not a defect."""
    returned = delivered_view().shipments[0].model_copy(update={"status": FulfillmentStatus.RETURNED_TO_SENDER})
    view = delivered_view(shipments=[returned], status=OrderStatus.REQUIRES_ACTION, finished=False)

    def unbooked(view: OrderView) -> list[str]:
        return [v.what for v in check(view, books(delivered_ledger())) if "returned units" in v.what]

    assert unbooked(view) == ["ERP booked 0 returned units, 3 came back"]
    assert unbooked(view.model_copy(update={"action_required": [ActionRequired.RETURNED_GOODS_UNREPORTED]})) == []
    ended = view.model_copy(update={"action_required": [ActionRequired.RETURNED_GOODS_UNREPORTED], "finished": True})
    assert unbooked(ended) == ["ERP booked 0 returned units, 3 came back"]


Plant = Callable[[Ledger], None]


@pytest.mark.parametrize(
    ("plant", "view_changes", "family", "words"),
    [
        # Money: more kept than delivered, a refund the view does not count, an authorization left open.
        (
            lambda b: b.record(ORDER, "payment", "capture", amount=100, idempotency_key="x"),
            {},
            Family.MONEY,
            "captured",
        ),
        (lambda b: b.record(ORDER, "payment", "refund", amount=500, idempotency_key="r"), {}, Family.MONEY, "refunded"),
        (lambda b: b.record(ORDER, "payment", "authorize", amount=7, idempotency_key="a2"), {}, Family.MONEY, "open"),
        # A parcel returned to sender is not kept, yet it stays charged.
        (
            lambda b: None,
            {
                "shipments": [
                    delivered_view().shipments[0].model_copy(update={"status": FulfillmentStatus.RETURNED_TO_SENDER})
                ]
            },
            Family.MONEY,
            "delivered",
        ),
        # Stock: a hold left held, a commit for goods that did not leave, goods back and the ERP not told.
        (lambda b: b.record(ORDER, "erp", "reserve", units=2, idempotency_key="h2"), {}, Family.STOCK, "reserved"),
        (lambda b: b.record(ORDER, "erp", "commit", units=1, idempotency_key="h3"), {}, Family.STOCK, "committed"),
        (
            lambda b: None,
            {
                "shipments": [
                    delivered_view().shipments[0].model_copy(update={"status": FulfillmentStatus.RETURNED_TO_SENDER})
                ]
            },
            Family.STOCK,
            "returned units",
        ),
        # Labels: a second label never voided; the parcel's own label voided while the view shows it moving.
        (
            lambda b: b.record(ORDER, "carrier", "label.buy", idempotency_key=f"{ORDER}:shipment:2"),
            {},
            Family.LABELS,
            "void",
        ),
        (
            lambda b: b.record(ORDER, "carrier", "label.void", idempotency_key=f"{ORDER}:shipment:1"),
            {},
            Family.LABELS,
            "voided label",
        ),
        # Effects applied twice under one key.
        (
            lambda b: b.record(ORDER, "erp", "commit", units=0, idempotency_key=f"{ORDER}:inventory.hold:1"),
            {},
            Family.STOCK,
            "2 times",
        ),
        # Messages: one the workflow says it sent and the customer never got.
        (lambda b: None, {"messages_sent": [*SENT, f"{ORDER}.order-delayed.1"]}, Family.MESSAGES, "mail received"),
        # Liveness: still running, not waiting for a person; completed over an undo step that failed.
        (lambda b: None, {"finished": False, "status": OrderStatus.CONFIRMED}, Family.LIVENESS, "not in a terminal"),
        (
            lambda b: None,
            {
                "timeline": [
                    TimelineEntry.model_validate(
                        {"at": "2026-01-01T00:00:00Z", "step": "undo_label", "outcome": "failed"}
                    )
                ]
            },
            Family.LIVENESS,
            "overwritten",
        ),
    ],
)
def test_each_family_reports_the_books_planted_for_it(
    plant: Plant, view_changes: dict[str, Any], family: Family, words: str
) -> None:
    ledger = delivered_ledger()
    plant(ledger)
    found = check(delivered_view(**view_changes), books(ledger))
    assert any(v.family is family and words in v.what for v in found), found


def test_a_cancelled_order_told_it_shipped_and_charged_is_reported() -> None:
    ledger = delivered_ledger()
    sent = [f"{ORDER}.order-shipped.1", f"{ORDER}.order-canceled.1"]
    view = delivered_view(status=OrderStatus.CANCELED, messages_sent=sent)
    found = {str(v) for v in check(view, books(ledger, sent))}
    assert any("money kept 13800 on a cancelled order" in v for v in found)
    assert any("cancelled, yet told ['order-shipped']" in v for v in found)


def test_a_tracking_number_told_for_a_voided_label_is_reported() -> None:
    ledger = Ledger()
    ledger.record(ORDER, "carrier", "label.buy", idempotency_key=f"{ORDER}:shipment:1")
    ledger.record(ORDER, "carrier", "label.void", idempotency_key=f"{ORDER}:shipment:1")
    shipment = delivered_view().shipments[0].model_copy(update={"status": FulfillmentStatus.CANCELED})
    sent = [f"{ORDER}.order-shipped.1"]
    view = delivered_view(status=OrderStatus.REQUIRES_ACTION, shipments=[shipment], captured=0, messages_sent=sent)
    told = Books.from_ledger(ledger.view(ORDER), mail(sent, text="Your tracking number: TRK1"))
    assert Family.MESSAGES in {v.family for v in check(view, told)}


def test_requires_action_needs_its_reason_in_a_search_attribute_and_an_unanswered_update_is_reported() -> None:
    view = delivered_view(status=OrderStatus.REQUIRES_ACTION)
    assert "requires_action with no reason in a search attribute" in {
        v.what for v in check(view, books(delivered_ledger()), attributes={"OrderStatus": "requires_action"})
    }
    assert check(view, books(delivered_ledger()), attributes={"ActionReason": "label_void_refused"}) == []
    found = check(delivered_view(), books(delivered_ledger()), unanswered=["cancel"])
    assert [v.what for v in found] == ["Update never answered: cancel"]


def test_requires_action_overwritten_by_completed_is_reported_from_the_published_statuses() -> None:
    told = books(delivered_ledger(), statuses=["confirmed", "requires_action", "completed"])
    assert Family.LIVENESS in families(delivered_view(), told)


def _rma(refunded: int, **changes: Any) -> ReturnView:
    rma = ReturnView.model_validate(
        {
            "rma_id": "R-1",
            "order_id": ORDER,
            "kind": "return",
            "channel": "web",
            "status": "refunded",
            "lines": [PEN.model_dump()],
            "returned": [{"sku": "PEN-01", "quantity": 1, "disposition": "restock"}],
            "refunded": refunded,
            "currency": "EUR",
            "finished": True,
        }
    )
    return rma.model_copy(update=changes)


def test_a_return_refunded_as_the_provider_paid_passes_and_one_reported_but_not_paid_is_reported() -> None:
    ledger = delivered_ledger()
    ledger.record(ORDER, "erp", "return.receive", units=1, idempotency_key="rcpt")
    ledger.record(ORDER, "payment", "refund", amount=12900, idempotency_key=f"{ORDER}:rma.R-1.refund:1")
    view = delivered_view(refunded=12900)
    assert check(view, books(ledger), [_rma(12900)]) == []
    # The RMA says it refunded more than the provider paid: a refund reported done that did not happen.
    assert Family.MONEY in families(view, books(ledger), [_rma(13800)])
    # Still open at the end.
    assert Family.LIVENESS in families(view, books(ledger), [_rma(12900, status=ReturnStatus.LABEL_ISSUED)])


def test_a_lost_parcel_refunded_passes_only_when_the_customer_was_told() -> None:
    ledger = delivered_ledger()
    ledger.record(ORDER, "payment", "refund", amount=TOTAL, idempotency_key=f"{ORDER}:parcel.refund:1")
    lost = delivered_view().shipments[0].model_copy(update={"status": FulfillmentStatus.LOST})
    told = [*SENT[:2], f"{ORDER}.parcel-undelivered.1"]
    view = delivered_view(shipments=[lost], refunded=TOTAL, messages_sent=told)
    assert check(view, books(ledger, told)) == []
    silent = view.model_copy(update={"messages_sent": SENT[:2]})
    assert Family.MESSAGES in families(silent, books(ledger, SENT[:2]))


def test_each_parcel_of_a_split_order_may_be_told_delivered_but_not_more_often_than_parcels_arrived() -> None:
    """A parcel that arrives while the rest of a split order still waits for stock is told on its own (issue 14,
    scenario 4): two parcels, two delivery messages, is right; a third, or a second for one parcel, is not."""
    first = delivered_view().shipments[0].model_copy(update={"lines": [PEN], "value": 12900})
    second = first.model_copy(
        update={"shipment_no": 2, "reference": f"{ORDER}:shipment:2", "tracking_code": "TRK2", "lines": [INK]}
    )
    twice = [*SENT, f"{ORDER}.order-delivered.2"]

    def messages(shipments: list[ShipmentView], sent: list[str]) -> set[Family]:
        view = delivered_view(shipments=shipments, messages_sent=sent)
        return {v.family for v in check(view, books(delivered_ledger(), sent)) if v.family is Family.MESSAGES}

    assert messages([first, second], twice) == set()
    assert messages([first, second], [*twice, f"{ORDER}.order-delivered.3"]) == {Family.MESSAGES}
    lost = second.model_copy(update={"status": FulfillmentStatus.LOST})
    assert messages([first, lost], twice) == {Family.MESSAGES}
