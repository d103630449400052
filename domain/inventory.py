"""Stock holds: the hub's own concept, which each ERP adapter translates into its system's terms."""

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.returns import Disposition


class HoldStatus(StrEnum):
    HELD = "held"
    RELEASED = "released"
    COMMITTED = "committed"


class StockRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int


class HoldLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    requested: int
    held: int
    short: int
    restock_date: date | None = None
    location: str | None = None
    """The warehouse holding the units, when the ERP has several: each ships its own parcel."""


class Hold(BaseModel):
    """Stock kept aside for an order. May be partial: ``short`` lines could not be held."""

    model_config = ConfigDict(frozen=True)

    hold_id: str
    order_id: str
    status: HoldStatus
    lines: list[HoldLine]

    @property
    def short_lines(self) -> list[HoldLine]:
        return [line for line in self.lines if line.short > 0]

    @property
    def units_held(self) -> int:
        return sum(line.held for line in self.lines)


class ReturnedStock(BaseModel):
    """A line of a return receipt: units received back at the warehouse and what inspection found."""

    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    disposition: Disposition
    """``restock``: back on hand, sellable again; ``damaged``: received, not restocked."""


class ReturnReceiptRecord(BaseModel):
    """The ERP's record of a return receipt, named by the hub's ``receipt_id`` (so reporting it is idempotent)."""

    model_config = ConfigDict(frozen=True)

    receipt_id: str
    order_id: str
    lines: list[ReturnedStock]
    received_at: datetime
