"""Shipping labels and tracking, normalised across carriers."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.order import Address


class TrackingStatus(StrEnum):
    LABEL_CREATED = "LABEL_CREATED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    DELIVERED = "DELIVERED"
    RETURNING_TO_SENDER = "RETURNING_TO_SENDER"
    EXCEPTION = "EXCEPTION"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


class Parcel(BaseModel):
    model_config = ConfigDict(frozen=True)

    weight_oz: float = 16.0
    length_in: float = 10.0
    width_in: float = 8.0
    height_in: float = 4.0


class LabelRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str
    """Our shipment reference (``{order_id}:shipment:{n}``); the key that makes buying exactly-once."""
    order_id: str
    to_address: Address
    """The customer's address: where an outbound parcel goes, where a return parcel comes from."""
    to_name: str
    parcel: Parcel = Parcel()
    is_return: bool = False
    """A return label: the parcel goes from the customer's address (``to_address``, ``to_name``, as on the order's
    outbound label) back to our warehouse. The request names the customer the same way in both directions; the
    carrier adapter knows the warehouse and turns this into the carrier's own return semantics."""


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str
    shipment_id: str
    carrier: str
    service: str
    tracking_code: str
    tracking_url: str | None = None
    label_url: str
    cost: str
    """The carrier's price as it quotes it (a decimal string); informational."""


class LabelVoid(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str
    voided: bool
    """False when there was no label to void (the step never happened): compensation is then a no-op."""


class Tracking(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str
    tracking_code: str | None
    status: TrackingStatus
    raw_status: str
