"""Parcels as both workflows follow them: a shipment from the carrier's label, what each carrier webhook means for
a parcel, and which scans are not for the parcel as we know it. Pure rules: no Temporal here."""

from datetime import datetime

from domain.events import EventKind
from domain.order import OrderLine
from domain.shipments import ShipmentView
from domain.shipping import Label
from domain.status import FulfillmentStatus

FULFILLMENT_BY_EVENT = {
    EventKind.SHIPMENT_IN_TRANSIT: FulfillmentStatus.IN_TRANSIT,
    EventKind.SHIPMENT_OUT_FOR_DELIVERY: FulfillmentStatus.OUT_FOR_DELIVERY,
    EventKind.SHIPMENT_DELIVERED: FulfillmentStatus.DELIVERED,
    EventKind.SHIPMENT_EXCEPTION: FulfillmentStatus.EXCEPTION,
    EventKind.SHIPMENT_RETURNED_TO_SENDER: FulfillmentStatus.RETURNED_TO_SENDER,
}
"""The carrier events that move a parcel; any other event is news for the timeline only."""


def shipment_from_label(
    label: Label, number: int, lines: list[OrderLine], *, value: int = 0, captured: bool = False
) -> ShipmentView:
    """The parcel a freshly bought label stands for: labelled, not yet scanned."""
    return ShipmentView(
        shipment_no=number,
        reference=label.reference,
        status=FulfillmentStatus.LABEL_CREATED,
        carrier=label.carrier,
        tracking_code=label.tracking_code,
        tracking_url=label.tracking_url,
        label_url=label.label_url,
        lines=lines,
        value=value,
        captured=captured,
    )


def describe_label(label: Label) -> str:
    return f"{label.carrier} {label.service} {label.tracking_code}"


def scan_not_applicable(
    shipment: ShipmentView | None,
    reference: str,
    status: FulfillmentStatus,
    occurred_at: datetime,
    latest_scan_at: datetime | None,
) -> str | None:
    """Why a carrier scan must not move the parcel (for the timeline), or ``None`` when it applies. Deliveries are
    at least once and unordered: a scan older than the newest one applied to the parcel is stale."""
    if shipment is None:
        return f"{status.value} for unknown parcel {reference}"
    if shipment.status is FulfillmentStatus.CANCELED:
        return f"{status.value} for voided label {reference}"
    if latest_scan_at is not None and occurred_at < latest_scan_at:
        return f"stale {status.value} (scanned {occurred_at.isoformat()})"
    return None
