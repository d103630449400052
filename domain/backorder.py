"""Backorders: what the customer is told when stock is short, and the three answers they can give (story 4)."""

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.order import Channel


class BackorderChoice(StrEnum):
    SHIP_AVAILABLE = "ship_available"
    """Ship what is in stock now, the rest in a second parcel when it arrives."""
    WAIT_FOR_ALL = "wait_for_all"
    """Keep everything together: one parcel once the missing items arrive."""
    CANCEL_MISSING = "cancel_missing"
    """Drop the missing items (their share of the payment is released) and ship the rest now."""


class BackorderDecision(BaseModel):
    """Body of ``POST /orders/{order_id}/backorder-decision``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    choice: BackorderChoice
    requested_via: Channel = "web"


class ShortLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    missing: int
    restock_date: date | None = None
    """When the ERP expects the SKU back, if it says."""


class Backorder(BaseModel):
    """An order's shortage: what is missing, the deadline for an answer, and the answer once given."""

    model_config = ConfigDict(frozen=True)

    lines: list[ShortLine]
    decide_by: datetime
    default: BackorderChoice
    choice: BackorderChoice | None = None
    decided_by: Literal["customer", "default"] | None = None
