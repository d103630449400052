"""Which channels a customer notice goes out on, and sending it on each: the ``ChannelRouter``.

Configuration decides the channels (``HUB_NOTIFICATIONS__…``): a default list (``["email"]``) and per-event
overrides (``{"order-shipped": ["email", "sms"]}``). Per customer, a channel without an address is skipped and
recorded (``reason="no_phone"``): a customer without a phone never gets an SMS. When every configured channel
is skipped the notice falls back to email, which every customer has: nobody is left without the message.

Ids: the email keeps the notice's notification id (its ``Message-ID`` is ``<{id}@domain>``, as always); every
other channel gets ``{id}.{channel}`` so that no receiver, nor a record of deliveries, takes two channels'
messages for one.

Failures: the channels are sent in order, in one activity attempt. A channel that *refuses* (a
``BusinessRejection`` such as an invalid number, or a ``ConfigurationError``) is recorded as not accepted and the
others still go out; only when no channel accepted is the first refusal raised. A transient or indeterminate
failure propagates: Temporal retries the whole notice, which is safe because every channel dedupes a repeat
(Message-ID, the SMS lookup, the webhook id).
"""

from collections.abc import Mapping, Sequence

import structlog

from connectors.errors import BusinessRejection, ConfigurationError, ConnectorError
from connectors.message_webhook import MessageWebhookNotifier, Recipient
from connectors.ports import Notifier
from domain.notification import Delivery, MessageChannel, OutboundMessage

log = structlog.get_logger("hub.channels")


def channel_notification_id(notification_id: str, channel: MessageChannel) -> str:
    """The id a channel's message carries: the notice's own for email, ``{id}.{channel}`` otherwise."""
    return notification_id if channel == "email" else f"{notification_id}.{channel}"


class ChannelRouter:
    """Sends a notice on every channel configured for its event (a ``Notifier`` too: ``send`` delivers one
    message on the channel it names)."""

    def __init__(
        self,
        *,
        email: Notifier,
        sms: Notifier | None = None,
        webhook: MessageWebhookNotifier | None = None,
        webhook_url: str | None = None,
        channels: Sequence[MessageChannel] = ("email",),
        per_event: Mapping[str, Sequence[MessageChannel]] | None = None,
    ) -> None:
        self._email = email
        self._sms = sms
        self._webhook = webhook
        self._webhook_url = webhook_url
        self._default = list(channels)
        self._per_event = {event: list(chosen) for event, chosen in (per_event or {}).items()}
        wanted = set(self._default).union(*self._per_event.values())
        if "sms" in wanted and sms is None:
            raise ValueError("the sms channel is configured but no SMS notifier was given")
        if "webhook" in wanted and (webhook is None or not webhook_url):
            raise ValueError("the webhook channel is configured but no webhook notifier or URL was given")

    def channels_for(
        self, event: str | None, preferred: Sequence[MessageChannel] | None = None
    ) -> list[MessageChannel]:
        """The channels of an event, in order, without repeats: the customer's own choice when they made one
        (among the channels this hub can send on; email always), else the retailer's configuration."""
        if preferred:
            usable = {"email", *(["sms"] if self._sms else []), *(["webhook"] if self._webhook_url else [])}
            chosen = [channel for channel in preferred if channel in usable] or ["email"]
        else:
            chosen = self._per_event.get(event, self._default) if event else self._default
        return list(dict.fromkeys(chosen))

    async def send(self, message: OutboundMessage) -> Delivery:
        """Deliver one message on ``message.channel`` (its ``recipient`` already that channel's address)."""
        if message.channel == "sms" and self._sms is not None:
            return await self._sms.send(message)
        if message.channel == "webhook" and self._webhook is not None:
            return await self._webhook.send(message)
        if message.channel == "email":
            return await self._email.send(message)
        raise ConfigurationError(f"channel {message.channel} is not configured", upstream=message.channel)

    async def dispatch(
        self, message: OutboundMessage, *, phone: str | None, preferred: Sequence[MessageChannel] | None = None
    ) -> Delivery:
        """Send ``message`` (addressed by email) on each channel for ``message.event`` (or the customer's choice).

        Returns the first accepted channel's ``Delivery`` with every channel's outcome in ``channels``.
        """
        channels = self.channels_for(message.event, preferred)
        outcomes = [await self._one(channel, message, phone) for channel in channels]
        if not any(d.accepted for d, _ in outcomes) and all(d.reason == "no_phone" for d, _ in outcomes):
            outcomes.append(await self._one("email", message, phone))
        deliveries = [delivery for delivery, _ in outcomes]
        accepted = [d for d in deliveries if d.accepted]
        if not accepted:
            refusals = [refused for _, refused in outcomes if refused is not None]
            raise refusals[0]  # not empty: only refusals and skips are unaccepted, and skips fall back to email
        return accepted[0].model_copy(update={"channels": deliveries})

    async def _one(
        self, channel: MessageChannel, message: OutboundMessage, phone: str | None
    ) -> tuple[Delivery, ConnectorError | None]:
        notification_id = channel_notification_id(message.notification_id, channel)
        if channel == "sms" and not phone:
            return Delivery(notification_id=notification_id, channel=channel, accepted=False, reason="no_phone"), None
        recipient = {"email": message.recipient, "sms": phone, "webhook": self._webhook_url}[channel]
        assert recipient is not None  # checked above (sms) and at construction (webhook)
        outbound = message.model_copy(
            update={"channel": channel, "recipient": recipient, "notification_id": notification_id}
        )
        try:
            if channel == "webhook":
                assert self._webhook is not None
                contacts = Recipient(email=message.recipient, phone=phone)
                return await self._webhook.send(outbound, contacts=contacts), None
            return await self.send(outbound), None
        except (BusinessRejection, ConfigurationError) as refused:
            # The code only: no address, no upstream text. A ConfigurationError is an operator's to fix.
            log.warning("channel_refused", channel=channel, error=type(refused).__name__, code=refused.code)
            reason = refused.code or type(refused).__name__
            return Delivery(notification_id=notification_id, channel=channel, accepted=False, reason=reason), refused
