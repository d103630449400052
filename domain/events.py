"""Events that upstreams push to the hub (webhooks), normalised: the workflow never sees a vendor payload.

Deliveries are at-least-once and unordered, so every event carries a stable id (the sender's, prefixed by the
source) and the time it happened; the order workflow drops an id it has seen and a shipment status older than
the one it already has.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

Source = Literal["erp", "carrier", "payment"]


class EventKind(StrEnum):
    # ERP
    STOCK_CHANGED = "stock.changed"
    STOCK_RESTOCKED = "stock.restocked"
    SHIPMENT_CONFIRMED = "shipment.confirmed"
    # carrier tracking
    SHIPMENT_IN_TRANSIT = "shipment.in_transit"
    SHIPMENT_OUT_FOR_DELIVERY = "shipment.out_for_delivery"
    SHIPMENT_DELIVERED = "shipment.delivered"
    SHIPMENT_EXCEPTION = "shipment.exception"
    SHIPMENT_RETURNED_TO_SENDER = "shipment.returned_to_sender"
    # payment provider
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    DISPUTE_OPENED = "dispute.opened"


NOT_SIGNALLED_TO_ORDERS = frozenset(
    {EventKind.SHIPMENT_IN_TRANSIT, EventKind.SHIPMENT_OUT_FOR_DELIVERY, EventKind.SHIPMENT_CONFIRMED}
)
"""News an order does not act on, so the API accepts it but does not signal the order (each signal is a billed
Temporal action, and a carrier sends many scans per parcel):

- progress scans only say a parcel moves on; the order acts on delivered, exception and returned-to-sender. The
  carrier's tracking page shows them, and the order's tracking poll picks up a parcel moving again after an
  exception. An RMA still gets them: a return parcel with the carrier needs no more reminders;
- the ERP's ``shipment.confirmed`` confirms a commit the order made itself and already knows the answer to."""


class UpstreamEvent(BaseModel):
    """One verified inbound event about one order."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    """``{source}:{sender's event id}``: the dedupe key."""
    source: Source
    kind: EventKind
    order_id: str
    occurred_at: datetime
    shipment_reference: str | None = None
    tracking_code: str | None = None
    raw_status: str | None = None
    """The sender's own status word, kept for the timeline (e.g. EasyPost's ``out_for_delivery``)."""
    amount: int | None = None
    """Minor units, for refund and dispute events."""
    reason: str | None = None
    """A sender's code (dispute reason, failure code): never free text."""
    payment_id: str | None = None
    """The provider's payment (a Stripe PaymentIntent) a refund or dispute is about."""
    refund_id: str | None = None
    """The provider's refund: one refund is reported several times (created, updated), and counted once."""
    hub_reference: str | None = None
    """Our idempotency key on a refund the hub made (kept in its metadata); ``None`` for a refund made elsewhere,
    such as the provider's dashboard."""


class StockEvent(BaseModel):
    """Stock moved for a SKU (not for an order): routed to the orders waiting for it, if any."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    kind: Literal[EventKind.STOCK_CHANGED, EventKind.STOCK_RESTOCKED]
    sku: str
    available: int
    restock_date: date | None = None
    occurred_at: datetime
