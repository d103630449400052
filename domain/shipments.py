"""A parcel as the hub follows it: an order's shipments, an RMA's return parcel or replacement."""

from pydantic import BaseModel, ConfigDict, Field

from domain.order import OrderLine
from domain.status import FulfillmentStatus


class ShipmentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    shipment_no: int
    reference: str
    """Our reference at the carrier (``{order}:shipment:{n}``, ``{order}:rma.{rma}.return-label:1``)."""
    status: FulfillmentStatus
    carrier: str | None = None
    tracking_code: str | None = None
    tracking_url: str | None = None
    label_url: str | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    """What this parcel carries, at the prices paid."""
    value: int = 0
    """The value of its lines, captured when it ships."""
    captured: bool = False
