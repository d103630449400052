"""An outbound message, rendered and ready for a channel."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class OutboundMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    """Dedupe key: the same id is the same message, however often it is sent."""
    order_id: str
    channel: Literal["email"] = "email"
    recipient: str
    subject: str
    text: str


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    channel: str
    accepted: bool
