"""One realistic notice per kind, for previews (``hub notifications preview``) and template tests.

Made-up people on example.com, never real customer data. Each sample carries what its kind says in practice
(a reason, what was undone, tracking, the backorder and its deadline, the return label), so a preview shows
every paragraph the template can write.
"""

from datetime import UTC, date, datetime
from typing import Any

from domain.backorder import Backorder, BackorderChoice, ShortLine
from domain.order import Customer
from domain.order_view import FailureReason
from domain.returns import AfterSalesKind, Disposition
from notifications.notice import (
    CustomerNotice,
    DelayCause,
    NoticeKind,
    NoticeLine,
    ParcelFate,
    TrackingLink,
    Undone,
)

_ORDER_ID = "A-10042"
_RMA_ID = "R-2071"
_LABEL_URL = "https://labels.example.com/returns/R-2071.pdf"
_PARCEL = TrackingLink(
    carrier="USPS", tracking_code="9400111899223344556677", url="https://track.example.com/9400111899223344556677"
)
_REPLACEMENT = TrackingLink(
    carrier="USPS", tracking_code="9400111899223344558899", url="https://track.example.com/9400111899223344558899"
)
_PEN = NoticeLine(sku="PEN-FOUNTAIN-01", quantity=1)
_INK = NoticeLine(sku="INK-CARTRIDGE-07", quantity=2)
_BACKORDER = Backorder(
    lines=[ShortLine(sku="INK-CARTRIDGE-07", missing=2, restock_date=date(2026, 12, 10))],
    decide_by=datetime(2026, 11, 26, 18, 0, tzinfo=UTC),
    default=BackorderChoice.SHIP_AVAILABLE,
)

_FIELDS: dict[NoticeKind, dict[str, Any]] = {
    NoticeKind.ORDER_CONFIRMED: {},
    NoticeKind.ORDER_SHIPPED: {"tracking": [_PARCEL]},
    NoticeKind.ORDER_CANCELED: {
        "reason": FailureReason.LABEL_REJECTED,
        "undone": [Undone.STOCK_RELEASED, Undone.PAYMENT_VOIDED],
        "amount_returned": 4200,
    },
    NoticeKind.ORDER_BACKORDERED: {
        "backorder": _BACKORDER,
        "decision_url": "https://shop.example.com/orders/A-10042/backorder",
    },
    NoticeKind.BACKORDER_DECIDED: {
        "backorder": _BACKORDER.model_copy(update={"choice": BackorderChoice.CANCEL_MISSING, "decided_by": "customer"}),
        "canceled_skus": ["INK-CARTRIDGE-07"],
    },
    NoticeKind.ITEMS_CANCELED: {
        "reason": FailureReason.AUTHORIZATION_RENEWAL_DECLINED,
        "canceled_skus": ["INK-CARTRIDGE-07"],
        "undone": [Undone.PAYMENT_VOIDED],
        "amount_returned": 1300,
    },
    NoticeKind.ORDER_DELAYED: {
        "delay": DelayCause.PAST_PROMISED_DATE,
        "promised_by": date(2026, 12, 10),
        "tracking": [_PARCEL],
    },
    NoticeKind.ORDER_DELIVERED: {"tracking": [_PARCEL]},
    NoticeKind.PARCEL_UNDELIVERED: {
        "parcel_fate": ParcelFate.RETURNED_TO_SENDER,
        "amount_returned": 4200,
        "tracking": [_PARCEL],
    },
    NoticeKind.RETURN_LABEL: {"after_sales_kind": AfterSalesKind.RETURN, "label_url": _LABEL_URL},
    NoticeKind.RETURN_IN_STORE: {"after_sales_kind": AfterSalesKind.RETURN, "bring_to_store": True},
    NoticeKind.RETURN_REMINDER: {"after_sales_kind": AfterSalesKind.RETURN, "label_url": _LABEL_URL},
    NoticeKind.RETURN_RECEIVED: {
        "after_sales_kind": AfterSalesKind.RETURN,
        "lines": [_PEN.model_copy(update={"disposition": Disposition.DAMAGED})],
    },
    NoticeKind.RETURN_REFUNDED: {
        "after_sales_kind": AfterSalesKind.RETURN,
        "amount_returned": 4200,
        "lines": [
            _PEN.model_copy(update={"disposition": Disposition.RESTOCK}),
            _INK.model_copy(update={"disposition": Disposition.DAMAGED}),
        ],
    },
    NoticeKind.RETURN_EXPIRED: {"after_sales_kind": AfterSalesKind.RETURN, "undone": [Undone.LABEL_VOIDED]},
    NoticeKind.RETURN_CANCELED: {
        "after_sales_kind": AfterSalesKind.EXCHANGE,
        "reason": FailureReason.OUT_OF_STOCK,
        "undone": [Undone.LABEL_VOIDED],
    },
    NoticeKind.EXCHANGE_CONFIRMED: {
        "after_sales_kind": AfterSalesKind.EXCHANGE,
        "tracking": [_REPLACEMENT],
        "label_url": _LABEL_URL,
    },
    NoticeKind.REPLACEMENT_SHIPPED: {"after_sales_kind": AfterSalesKind.CLAIM, "tracking": [_REPLACEMENT]},
    NoticeKind.CLAIM_RECEIVED: {"after_sales_kind": AfterSalesKind.CLAIM},
    NoticeKind.CLAIM_APPROVED: {"after_sales_kind": AfterSalesKind.CLAIM, "amount_returned": 4200},
    NoticeKind.CLAIM_DECLINED: {"after_sales_kind": AfterSalesKind.CLAIM},
    NoticeKind.RETURN_NOT_ARRIVED: {"after_sales_kind": AfterSalesKind.RETURN, "parcel_fate": ParcelFate.LOST},
    NoticeKind.EXCHANGE_CHARGED: {"after_sales_kind": AfterSalesKind.EXCHANGE, "amount_charged": 4200},
    NoticeKind.REFUND_DELAYED: {
        "after_sales_kind": AfterSalesKind.RETURN,
        "amount_returned": 1000,
        "amount_delayed": 3200,
    },
}

_AFTER_SALES = {kind for kind, fields in _FIELDS.items() if "after_sales_kind" in fields}


def sample(kind: NoticeKind, locale: str = "en", *, name: str = "Camille Martin") -> CustomerNotice:
    """A notice of ``kind`` for a made-up customer who reads ``locale``; 42.00 EUR unless the kind says more."""
    customer = Customer(id="C-2001", email="camille.martin@example.com", name=name, locale=locale)
    lines = [_PEN] if kind in _AFTER_SALES else []
    return CustomerNotice.model_validate(
        {
            "order_id": _ORDER_ID,
            "kind": kind,
            "customer": customer,
            "currency": "EUR",
            "total": 4200,
            "rma_id": _RMA_ID if kind in _AFTER_SALES else None,
            "lines": lines,
            **_FIELDS[kind],
        }
    )
