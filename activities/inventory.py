"""Inventory activities: hold stock, give it back, or let it leave the warehouse."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import Inventory
from domain.inventory import Hold, StockRequest
from domain.keys import hold_id


class ReserveStock(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    lines: list[StockRequest]


class HoldRef(BaseModel):
    """Names the order's hold; the hold id is derived from it, never stored separately."""

    model_config = ConfigDict(frozen=True)

    order_id: str


class InventoryActivities:
    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    @activity.defn(name="reserve_stock")
    async def reserve(self, request: ReserveStock) -> Hold:
        return await self._inventory.reserve(
            hold_id=hold_id(request.order_id), order_id=request.order_id, lines=request.lines
        )

    @activity.defn(name="release_stock")
    async def release(self, request: HoldRef) -> Hold | None:
        """Compensation: a no-op (``None``) when nothing was ever held."""
        return await self._inventory.release(hold_id(request.order_id))

    @activity.defn(name="commit_stock")
    async def commit(self, request: HoldRef) -> Hold:
        return await self._inventory.commit(hold_id(request.order_id))
