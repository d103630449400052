"""Shipping activities: buy a label exactly once, void it, follow it.

Labels are named by our shipment reference, derived from the business (``{order}:shipment:{n}``,
``{order}:rma.{rma}.return-label:1``): the carrier key that makes buying exactly-once."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import Carrier
from domain.order import Address
from domain.shipping import Label, LabelRequest, LabelVoid, Tracking


class BuyLabel(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    reference: str
    address: Address
    """The customer's address: where the parcel goes, or where a return parcel comes from."""
    name: str
    is_return: bool = False


class ShipmentRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str


class ShippingActivities:
    def __init__(self, carrier: Carrier) -> None:
        self._carrier = carrier

    @activity.defn(name="buy_label")
    async def buy_label(self, request: BuyLabel) -> Label:
        return await self._carrier.buy_label(
            LabelRequest(
                reference=request.reference,
                order_id=request.order_id,
                to_address=request.address,
                to_name=request.name,
                is_return=request.is_return,
            )
        )

    @activity.defn(name="void_label")
    async def void_label(self, request: ShipmentRef) -> LabelVoid:
        """Compensation: a no-op (``voided=False``) when no label was bought."""
        return await self._carrier.void_label(request.reference)

    @activity.defn(name="track_shipment")
    async def track(self, request: ShipmentRef) -> Tracking:
        return await self._carrier.track(request.reference)
