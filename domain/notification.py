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
    short_text: str | None = None
    """A text short enough for an SMS, when the renderer writes one; the SMS channel shortens ``text`` otherwise."""


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    channel: str
    accepted: bool
    subject: str | None = None
    """What the customer saw as the subject, for the customer timeline (set by the notify activity)."""
    reference: str | None = None
    """The upstream's id of what it accepted (a Twilio ``SM…`` sid), when it has one."""
    reason: str | None = None
    """Why a channel was not used (``no_phone``) or refused the message (a rejection code); ``accepted`` is false."""
    channels: list["Delivery"] = []
    """When a notice goes out on several channels: one entry per channel, in the configured order (this
    ``Delivery`` is the first channel that accepted it)."""

    @property
    def sent_on(self) -> str:
        """``email``, or ``email+sms``: every channel that accepted the message, for the customer timeline."""
        accepted = [delivery.channel for delivery in self.channels if delivery.accepted]
        return "+".join(accepted) if accepted else self.channel
