"""Verified webhook bodies → normalised events (``domain.events``), one parser per source.

The caller has already verified the signature over the raw bytes (``connectors.webhook_signatures``); these
functions only read the signed body. They are pure apart from the resolver callbacks passed in, and refuse a
body with ``InboundRejected``, whose ``status`` is the HTTP answer to give the sender:

- ``400``: the body is not a JSON object, or (EasyPost) the event's ``created_at`` is more than 5 minutes away
  from now in either direction: EasyPost signs no timestamp header, so the signed body carries the freshness.
- ``422``: a field missing or of the wrong type.

``None`` means "understood, nothing to do", and ``Unhandled`` "verified, but not for the hub": an event type it
does not know (``ignored``), or a shipment or payment it did not create, as on an account shared with other
systems (``not_routed``). The caller acknowledges both (``2xx``): a sender answered 4xx retries for days and may
end up disabling the endpoint.
Reasons name event types and field paths only, never a value from the body (no PII in logs).
"""

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, Literal

from connectors.webhook_signatures import TOLERANCE
from domain.events import EventKind, StockEvent, UpstreamEvent
from domain.keys import order_id_of, rma_id_of
from domain.returns import Disposition, InspectedLine, WarehouseReceipt

Resolver = Callable[[str], Awaitable[str | None]]
"""Maps a vendor id (EasyPost shipment id, Stripe payment intent id) to ours; ``None`` when unknown."""


class InboundRejected(Exception):
    """A verified body the hub will not turn into an event; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class Unhandled(Exception):
    """A verified event the hub has nothing to do with; ``outcome`` is what the answer says."""

    def __init__(self, outcome: Literal["ignored", "not_routed"], reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


# -- reading JSON ----------------------------------------------------------------------------------------------


def _load(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InboundRejected(400, "malformed JSON") from None
    if not isinstance(payload, dict):
        raise InboundRejected(400, "malformed JSON: the body is not an object")
    return payload


def _missing(path: str) -> InboundRejected:
    return InboundRejected(422, f"missing field {path}")


def _invalid(path: str) -> InboundRejected:
    return InboundRejected(422, f"invalid field {path}")


def _object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        raise _missing(path)
    if not isinstance(value, dict):
        raise _invalid(path)
    return value


def _string(parent: dict[str, Any], key: str, path: str) -> str:
    value = parent.get(key)
    if value is None or value == "":
        raise _missing(path)
    if not isinstance(value, str):
        raise _invalid(path)
    return value


def _optional_string(parent: dict[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(path)
    return value


def _integer(parent: dict[str, Any], key: str, path: str) -> int:
    value = parent.get(key)
    if value is None:
        raise _missing(path)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(path)
    return value


def _timestamp(parent: dict[str, Any], key: str, path: str) -> datetime:
    """An ISO 8601 date-time; one without an offset is read as UTC (what EasyPost and the ERP contract mean)."""
    text = _string(parent, key, path)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(path) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _unix(parent: dict[str, Any], key: str, path: str) -> datetime:
    seconds = _integer(parent, key, path)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise _invalid(path) from None


def _type_name(value: object) -> str:
    # The type is echoed in the reason; bound it so a misbehaving sender cannot flood the logs.
    return repr(value)[:80]


# -- ERP (Standard Webhooks) -----------------------------------------------------------------------------------

_ERP_TYPES = frozenset({"shipment.confirmed", "stock.changed", "stock.restocked", "return.received"})


def parse_erp(body: bytes, event_id: str) -> UpstreamEvent | StockEvent | WarehouseReceipt | None:
    """An ERP push ``{"type", "timestamp", "data"}``; ``event_id`` is its verified ``webhook-id`` header.

    ``None`` for a ``return.received`` whose receipt id names no RMA (a receipt the hub did not ask for)."""
    payload = _load(body)
    kind = _string(payload, "type", "type")
    if kind not in _ERP_TYPES:
        raise Unhandled("ignored", f"unknown event type {_type_name(kind)}")
    occurred_at = _timestamp(payload, "timestamp", "timestamp")
    data = _object(payload, "data", "data")
    if kind == "return.received":
        return _return_received(data, f"erp:{event_id}", occurred_at)
    if kind == "shipment.confirmed":
        order_id = _string(data, "order_id", "data.order_id")
        reference = _optional_string(data, "shipment_reference", "data.shipment_reference")
        if reference is not None and order_id_of(reference) != order_id:
            raise InboundRejected(422, "data.shipment_reference belongs to another order")
        return UpstreamEvent(
            event_id=f"erp:{event_id}",
            source="erp",
            kind=EventKind.SHIPMENT_CONFIRMED,
            order_id=order_id,
            occurred_at=occurred_at,
            shipment_reference=reference,
            tracking_code=_optional_string(data, "tracking_code", "data.tracking_code"),
        )
    sku = _string(data, "sku", "data.sku")
    available = _integer(data, "available", "data.available")
    if available < 0:
        raise _invalid("data.available")
    restock = _optional_string(data, "restock_date", "data.restock_date")
    try:
        restock_date = None if restock is None else date.fromisoformat(restock)
    except ValueError:
        raise _invalid("data.restock_date") from None
    stock_kind = EventKind.STOCK_CHANGED if kind == "stock.changed" else EventKind.STOCK_RESTOCKED
    return StockEvent(
        event_id=f"erp:{event_id}",
        kind=stock_kind,
        sku=sku,
        available=available,
        restock_date=restock_date,
        occurred_at=occurred_at,
    )


def _return_received(data: dict[str, Any], event_id: str, occurred_at: datetime) -> WarehouseReceipt | None:
    order_id = _string(data, "order_id", "data.order_id")
    receipt_id = _string(data, "receipt_id", "data.receipt_id")
    if order_id_of(receipt_id) != order_id:
        raise InboundRejected(422, "data.receipt_id belongs to another order")
    lines = data.get("lines")
    if lines is None:
        raise _missing("data.lines")
    if not isinstance(lines, list) or not lines:
        raise _invalid("data.lines")
    inspected: list[InspectedLine] = []
    for i, line in enumerate(lines):
        path = f"data.lines.{i}"
        if not isinstance(line, dict):
            raise _invalid(path)
        sku = _string(line, "sku", f"{path}.sku")
        quantity = _integer(line, "quantity", f"{path}.quantity")
        disposition = _string(line, "disposition", f"{path}.disposition")
        if disposition not in {d.value for d in Disposition}:
            raise _invalid(f"{path}.disposition")
        try:
            inspected.append(InspectedLine(sku=sku, quantity=quantity, disposition=Disposition(disposition)))
        except ValueError:  # pydantic's ValidationError: an SKU outside the alphabet, a quantity out of range
            raise _invalid(path) from None
    rma_id = rma_id_of(receipt_id)
    if rma_id is None:
        return None
    return WarehouseReceipt(
        event_id=event_id,
        order_id=order_id,
        rma_id=rma_id,
        receipt_id=receipt_id,
        lines=inspected,
        occurred_at=occurred_at,
    )


# -- carrier (EasyPost) ----------------------------------------------------------------------------------------

_TRACKER_KINDS = {
    "in_transit": EventKind.SHIPMENT_IN_TRANSIT,
    "out_for_delivery": EventKind.SHIPMENT_OUT_FOR_DELIVERY,
    "available_for_pickup": EventKind.SHIPMENT_OUT_FOR_DELIVERY,
    "delivered": EventKind.SHIPMENT_DELIVERED,
    "failure": EventKind.SHIPMENT_EXCEPTION,
    "error": EventKind.SHIPMENT_EXCEPTION,
    "return_to_sender": EventKind.SHIPMENT_RETURNED_TO_SENDER,
}
"""Tracker statuses the workflow acts on; any other (``pre_transit``, ``unknown``, ``cancelled``…) is ignored."""


_EASYPOST_TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})
# EasyPost events an account subscribed to "all events" also receives, that say nothing about a parcel's way:
# acknowledged so EasyPost stops retrying them, and otherwise ignored.
_EASYPOST_IGNORED = frozenset(
    {
        "batch.created",
        "batch.updated",
        "scan_form.created",
        "scan_form.updated",
        "insurance.purchased",
        "insurance.cancelled",
        "payment.created",
        "payment.completed",
        "payment.failed",
        "refund.successful",
        "report.new",
        "report.available",
        "report.failed",
        "shipment.invoice.created",
        "shipment.invoice.updated",
    }
)


async def parse_carrier(body: bytes, now: datetime, order_of_shipment: Resolver) -> UpstreamEvent | None:
    """An EasyPost tracker Event; ``None`` for a tracker status the workflow does not act on or an EasyPost event
    that is not about tracking.

    ``order_of_shipment`` maps the tracker's EasyPost ``shipment_id`` to our shipment reference
    (``A-1:shipment:1``); it is called only for a status that becomes an event.
    """
    payload = _load(body)
    evt_id = _string(payload, "id", "id")
    description = _string(payload, "description", "description")
    if description in _EASYPOST_IGNORED:
        return None
    if description not in _EASYPOST_TRACKER_EVENTS:
        raise Unhandled("ignored", f"unknown event type {_type_name(description)}")
    created_at = _timestamp(payload, "created_at", "created_at")
    if abs(now - created_at) > TOLERANCE:
        raise InboundRejected(400, "created_at outside the 5-minute tolerance")
    tracker = _object(payload, "result", "result")
    if tracker.get("object") != "Tracker":
        raise _invalid("result.object")
    status = _string(tracker, "status", "result.status")
    tracking_code = _string(tracker, "tracking_code", "result.tracking_code")
    shipment_id = _string(tracker, "shipment_id", "result.shipment_id")
    kind = _TRACKER_KINDS.get(status)
    if kind is None:
        return None
    reference = await order_of_shipment(shipment_id)
    if reference is None:
        raise Unhandled("not_routed", "a shipment the hub did not create")
    return UpstreamEvent(
        event_id=f"carrier:{evt_id}",
        source="carrier",
        kind=kind,
        order_id=order_id_of(reference),
        occurred_at=created_at,
        shipment_reference=reference,
        tracking_code=tracking_code,
        raw_status=status,
    )


# -- payment (Stripe) ------------------------------------------------------------------------------------------

_REFUND_TYPES = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
"""Stripe event types whose ``data.object`` is a Refund."""

_IGNORED_TYPES = frozenset(
    {
        "payment_intent.created",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.pending",
        "charge.succeeded",
        "charge.captured",
        "charge.updated",
        "charge.failed",
        "charge.expired",
        "charge.refunded",  # the refund.* events carry the outcome, per refund
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)
"""Stripe event types the hub knows and has nothing to do with: acknowledged and dropped."""

_REFUND_PENDING = frozenset({"pending", "requires_action"})
_REFUND_FAILED = frozenset({"failed", "canceled"})


async def _order_of_intent(data: dict[str, Any], path: str, order_of_payment: Resolver) -> str:
    order_id = await order_of_payment(_string(data, "payment_intent", f"{path}.payment_intent"))
    if order_id is None:
        raise Unhandled("not_routed", "a payment the hub did not create")
    return order_id


async def parse_payment(body: bytes, order_of_payment: Resolver) -> UpstreamEvent | None:
    """A Stripe Event; ``None`` for a known type (or a pending refund) the workflow has nothing to do with.

    A refund's order comes from its ``metadata.order_id`` (set on the refunds the hub creates), else from
    ``order_of_payment(payment_intent)``; a dispute's always from ``order_of_payment``.
    """
    payload = _load(body)
    evt_id = _string(payload, "id", "id")
    kind = _string(payload, "type", "type")
    if kind in _IGNORED_TYPES:
        return None
    if kind not in _REFUND_TYPES and kind != "charge.dispute.created":
        raise Unhandled("ignored", f"unknown event type {_type_name(kind)}")
    occurred_at = _unix(payload, "created", "created")
    obj = _object(_object(payload, "data", "data"), "object", "data.object")
    path = "data.object"

    if kind == "charge.dispute.created":
        amount = _integer(obj, "amount", f"{path}.amount")
        dispute_reason = _string(obj, "reason", f"{path}.reason")
        return UpstreamEvent(
            event_id=f"payment:{evt_id}",
            source="payment",
            kind=EventKind.DISPUTE_OPENED,
            order_id=await _order_of_intent(obj, path, order_of_payment),
            occurred_at=occurred_at,
            amount=amount,
            reason=dispute_reason,
            payment_id=_optional_string(obj, "payment_intent", f"{path}.payment_intent"),
        )

    status = _string(obj, "status", f"{path}.status")
    amount = _integer(obj, "amount", f"{path}.amount")
    if status in _REFUND_PENDING:
        return None
    reason: str | None = None
    if status == "succeeded":
        refund_kind = EventKind.REFUND_SUCCEEDED
    elif status in _REFUND_FAILED:
        refund_kind = EventKind.REFUND_FAILED
        reason = _optional_string(obj, "failure_reason", f"{path}.failure_reason")
    else:
        raise _invalid(f"{path}.status")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _invalid(f"{path}.metadata")
    order_id = _optional_string(metadata or {}, "order_id", f"{path}.metadata.order_id")
    if order_id is None:
        order_id = await _order_of_intent(obj, path, order_of_payment)
    return UpstreamEvent(
        event_id=f"payment:{evt_id}",
        source="payment",
        kind=refund_kind,
        order_id=order_id,
        occurred_at=occurred_at,
        amount=amount,
        reason=reason,
        payment_id=_optional_string(obj, "payment_intent", f"{path}.payment_intent"),
        refund_id=_optional_string(obj, "id", f"{path}.id"),
        hub_reference=_optional_string(metadata or {}, "hub_reference", f"{path}.metadata.hub_reference"),
    )
