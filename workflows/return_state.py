"""What an after-sales workflow carries into its next run when it continues as new (an RMA may wait weeks for a
parcel or an operator). Only the workflow writes or reads it."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.payment import Payment
from domain.returns import ReturnedLine, ReturnStatus
from domain.shipments import ShipmentView
from domain.timeline import MessageRecord, TimelineEntry


class CarriedOver(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: ReturnStatus
    timeline: list[TimelineEntry]
    messages_sent: list[str]
    messages: list[MessageRecord] = []
    payments: list[Payment]
    """The order's payments as the refunds left them."""
    refunded: int
    returned: list[ReturnedLine]
    return_shipment: ShipmentView | None
    replacement_shipment: ShipmentView | None
    replacement_shipped: bool
    started: bool
    """The first steps (labels, replacement) are done: a later run goes straight to waiting."""
    no_return: str | None
    """Why the RMA can no longer be cancelled, once it cannot."""
    waiting_since: datetime | None
    reminded: bool
    seen_events: list[str]
    latest_scan_at: dict[str, datetime]
    runs: int
    """How many runs came before this one, for the timeline and for tests."""
