"""An outbound message, rendered and ready for a channel."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

MessageChannel = Literal["email", "sms", "webhook"]


class OutboundMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    """Dedupe key: the same id is the same message, however often it is sent."""
    order_id: str
    channel: MessageChannel = "email"
    recipient: str
    """The address on that channel: an email address, an E.164 phone number, or the retailer's endpoint."""
    subject: str
    text: str
    html: str | None = None
    """The HTML part of an email, alongside ``text``."""
    event: str | None = None
    """The notice kind (``order-shipped``), for channels that let the retailer word the message itself."""
    locale: str | None = None


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    channel: str
    accepted: bool
    subject: str | None = None
    """What the customer saw as the subject, for the customer timeline (set by the notify activity)."""
