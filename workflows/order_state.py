"""What an order workflow carries into its next run when it continues as new (its history would otherwise grow
without bound while it follows a parcel for weeks). Only the workflow writes or reads it."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.order import Address
from domain.order_view import FailureReason, ShipmentView, TimelineEntry
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from notifications.notice import Undone


class CarriedOver(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: FulfillmentStatus
    timeline: list[TimelineEntry]
    shipments: list[ShipmentView]
    failure_reason: FailureReason | None
    compensations: list[str]
    undone: list[Undone]
    amount_returned: int
    messages_sent: list[str]
    address: Address
    label_no: int
    progress: int
    latest_scan_at: datetime | None
    seen_events: list[str]
    status_seq: int
    delivery_deadline: datetime | None
    runs: int
    """How many runs came before this one, for the timeline and for tests."""
