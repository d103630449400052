"""Shipping activities: buy a label exactly once, void it, follow it."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import Carrier
from domain.keys import shipment_reference
from domain.order import Address
from domain.shipping import Label, LabelRequest, LabelVoid, Tracking


class BuyLabel(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    shipment_no: int = 1
    to_address: Address
    to_name: str


class ShipmentRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    shipment_no: int = 1


class ShippingActivities:
    def __init__(self, carrier: Carrier) -> None:
        self._carrier = carrier

    @activity.defn(name="buy_label")
    async def buy_label(self, request: BuyLabel) -> Label:
        return await self._carrier.buy_label(
            LabelRequest(
                reference=shipment_reference(request.order_id, request.shipment_no),
                order_id=request.order_id,
                to_address=request.to_address,
                to_name=request.to_name,
            )
        )

    @activity.defn(name="void_label")
    async def void_label(self, request: ShipmentRef) -> LabelVoid:
        """Compensation: a no-op (``voided=False``) when no label was bought."""
        return await self._carrier.void_label(shipment_reference(request.order_id, request.shipment_no))

    @activity.defn(name="track_shipment")
    async def track(self, request: ShipmentRef) -> Tracking:
        return await self._carrier.track(shipment_reference(request.order_id, request.shipment_no))
