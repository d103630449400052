"""Inventory activities: hold stock, give it back, let it leave the warehouse, take returns back in.

Every call names its hold by a key the workflow derives from the business (``{order}:inventory.hold:{n}``,
``{order}:rma.{rma}.hold:1``): an order may hold stock several times (a backorder, a replacement)."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import Inventory
from domain.inventory import Hold, ReturnedStock, ReturnReceiptRecord, StockRequest


class ReserveStock(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    hold_id: str
    lines: list[StockRequest]


class HoldRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    hold_id: str


class ReceiveReturn(BaseModel):
    """Goods of an RMA back at the warehouse, inspected; named by ``{order}:rma.{rma}.receipt:1``."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    receipt_id: str
    lines: list[ReturnedStock]


class InventoryActivities:
    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    @activity.defn(name="reserve_stock")
    async def reserve(self, request: ReserveStock) -> Hold:
        return await self._inventory.reserve(hold_id=request.hold_id, order_id=request.order_id, lines=request.lines)

    @activity.defn(name="release_stock")
    async def release(self, request: HoldRef) -> Hold | None:
        """Compensation: a no-op (``None``) when nothing was ever held."""
        return await self._inventory.release(request.hold_id)

    @activity.defn(name="commit_stock")
    async def commit(self, request: HoldRef) -> Hold:
        return await self._inventory.commit(request.hold_id)

    @activity.defn(name="receive_return")
    async def receive_return(self, request: ReceiveReturn) -> ReturnReceiptRecord:
        """Report a return receipt: ``restock`` lines go back on hand. Idempotent by ``receipt_id``."""
        return await self._inventory.receive_return(
            receipt_id=request.receipt_id, order_id=request.order_id, lines=request.lines
        )
