"""After-sales pieces that need no server: the ERP ``return.received`` parser, message ids and the words."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from api.inbound import InboundRejected, parse_erp
from domain.order import Customer
from domain.order_view import FailureReason
from domain.returns import AfterSalesKind, Disposition, InspectedLine, WarehouseReceipt
from notifications.notice import CustomerNotice, NoticeKind, NoticeLine, TrackingLink, Undone
from notifications.render import render


def _received(data: dict[str, Any]) -> bytes:
    return json.dumps({"type": "return.received", "timestamp": "2026-11-30T09:12:44Z", "data": data}).encode()


RECEIPT = {
    "order_id": "A-1001",
    "receipt_id": "A-1001:rma.R-7.receipt:1",
    "lines": [
        {"sku": "PEN-01", "quantity": 2, "disposition": "restock"},
        {"sku": "INK-07", "quantity": 1, "disposition": "damaged"},
    ],
}


def test_return_received_names_its_rma_by_the_receipt_id() -> None:
    assert parse_erp(_received(RECEIPT), "msg_1") == WarehouseReceipt(
        event_id="erp:msg_1",
        order_id="A-1001",
        rma_id="R-7",
        receipt_id="A-1001:rma.R-7.receipt:1",
        lines=[
            InspectedLine(sku="PEN-01", quantity=2, disposition=Disposition.RESTOCK),
            InspectedLine(sku="INK-07", quantity=1, disposition=Disposition.DAMAGED),
        ],
        occurred_at=datetime(2026, 11, 30, 9, 12, 44, tzinfo=UTC),
    )


def test_a_receipt_the_hub_did_not_ask_for_is_acknowledged_and_ignored() -> None:
    assert parse_erp(_received({**RECEIPT, "receipt_id": "A-1001:walk-in:3"}), "m") is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"receipt_id": "A-2:rma.R-7.receipt:1"}, "data.receipt_id belongs to another order"),
        ({"lines": []}, "invalid field data.lines"),
        ({"lines": None}, "missing field data.lines"),
        (
            {"lines": [{"sku": "PEN-01", "quantity": 1, "disposition": "lost"}]},
            "invalid field data.lines.0.disposition",
        ),
        ({"lines": [{"sku": "PEN-01", "quantity": 0, "disposition": "restock"}]}, "invalid field data.lines.0"),
        ({"lines": [{"sku": "PEN-01", "disposition": "restock"}]}, "missing field data.lines.0.quantity"),
    ],
)
def test_malformed_return_received_is_refused_naming_the_field(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(InboundRejected) as refused:
        parse_erp(_received({**RECEIPT, **change}), "m")
    assert (refused.value.status, refused.value.reason) == (422, reason)


def _notice(kind: NoticeKind, locale: str = "en", **changes: Any) -> CustomerNotice:
    return CustomerNotice.model_validate(
        {
            "order_id": "A-1",
            "kind": kind,
            "customer": Customer(id="C-1", email="ana@example.com", name="Ana", locale=locale),
            "currency": "EUR",
            "total": 12900,
            "rma_id": "R-7",
            "after_sales_kind": AfterSalesKind.RETURN,
            "lines": [NoticeLine(sku="PEN-01", quantity=1)],
            **changes,
        }
    )


def test_after_sales_messages_have_their_own_ids_and_order_messages_keep_theirs() -> None:
    assert _notice(NoticeKind.RETURN_LABEL, seq=2).notification_id == "A-1.return-label.R-7.2"
    order_notice = _notice(NoticeKind.ORDER_SHIPPED).model_copy(update={"rma_id": None})
    assert order_notice.notification_id == "A-1.order-shipped.1"


@pytest.mark.parametrize("locale", ["en", "fr-FR"])
def test_the_label_message_carries_the_label(locale: str) -> None:
    rendered = render(_notice(NoticeKind.RETURN_LABEL, locale, label_url="https://labels.example/R-7.pdf"))
    assert "https://labels.example/R-7.pdf" in rendered.text and "R-7" in rendered.subject


@pytest.mark.parametrize("locale", ["en", "fr-FR"])
def test_an_exchange_tells_one_story_without_ever_speaking_of_a_refund(locale: str) -> None:
    exchange = {
        "after_sales_kind": AfterSalesKind.EXCHANGE,
        "label_url": "https://labels.example/R-7.pdf",
        "tracking": [TrackingLink(carrier="USPS", tracking_code="TRK9")],
    }
    kinds = [NoticeKind.EXCHANGE_CONFIRMED, NoticeKind.RETURN_LABEL, NoticeKind.RETURN_REMINDER]
    kinds += [NoticeKind.RETURN_RECEIVED, NoticeKind.RETURN_EXPIRED]
    for kind in kinds:
        rendered = render(_notice(kind, locale, **exchange))
        words = (rendered.subject + rendered.text).lower()
        assert "refund" not in words and "rembours" not in words, kind
    confirmed = render(_notice(NoticeKind.EXCHANGE_CONFIRMED, locale, **exchange)).text
    assert "TRK9" in confirmed and "https://labels.example/R-7.pdf" in confirmed


def test_refund_message_states_the_amount_and_each_line_condition() -> None:
    lines = [
        NoticeLine(sku="PEN-01", quantity=1, disposition="restock"),
        NoticeLine(sku="INK-07", quantity=2, disposition="damaged"),
    ]
    fr = render(_notice(NoticeKind.RETURN_REFUNDED, "fr-FR", amount_returned=13350, lines=lines))
    assert "133,50\u00a0€" in fr.subject and "2 x INK-07 : reçu endommagé" in fr.text


def test_a_cancelled_exchange_says_why_and_that_the_label_is_void() -> None:
    rendered = render(
        _notice(
            NoticeKind.RETURN_CANCELED,
            after_sales_kind=AfterSalesKind.EXCHANGE,
            reason=FailureReason.OUT_OF_STOCK,
            undone=[Undone.LABEL_VOIDED],
        )
    )
    assert rendered.subject == "Your exchange R-7 is cancelled"
    assert "out of stock" in rendered.text and "return label has been cancelled" in rendered.text
