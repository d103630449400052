"""A customer's whole history in one list (story 5): whoever serves them, online, in a store or on the phone, sees
every order, return and claim, every message sent, and every action taken from any channel, newest first.

It is read from the workflows themselves (visibility by ``CustomerId``, then each one's query), so it is never out
of step with what the hub did. It may show what the customer was told; it is served only to authenticated callers.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

ItemKind = Literal["order", "return", "status", "message", "action"]


class CustomerTimelineItem(BaseModel):
    at: datetime
    kind: ItemKind
    order_id: str
    rma_id: str | None = None
    summary: str
    channel: str | None = None
    """For a message, how it went out (``email``, ``sms``…); for an action, where it came from (``store``…)."""


class CustomerTimeline(BaseModel):
    customer_id: str
    orders: list[str]
    returns: list[str]
    items: list[CustomerTimelineItem]
    """Newest first."""
