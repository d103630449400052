"""Customer messages handed to the retailer, for retailers that word and send their messages themselves.

Each message is one signed Standard Webhooks ``POST`` (the same signing and posting code as the status events,
``connectors/status_webhooks.py``) to the retailer's endpoint, body::

    {"type": "notification.requested", "timestamp": "2026-03-01T12:00:00.123456Z",
     "data": {"notification_id", "order_id", "event", "locale", "recipient": {"email", "phone"},
              "subject", "text", "html", "sms"}}

``sms`` is the same message in a sentence or two, with its links, for a retailer that texts its customers
itself. ``notification_id`` is also the ``webhook-id`` header: the receiver's dedupe key. Delivery is at least once (a
retry after a lost answer posts the same id again), so a receiver must drop a repeat by that id.

Answers: 2xx accepted; 401/403 → ``ConfigurationError`` (the secret or the endpoint's auth is wrong); 429 →
``RateLimitedError``; 5xx, timeouts → ``IndeterminateError`` (re-sending is safe, the id dedupes); another 4xx
(400, 404, 410, 422) → ``BusinessRejection`` ``message_rejected``: the retailer refused this message.
"""

from datetime import UTC, datetime

import httpx
from pydantic import BaseModel

from connectors.errors import BusinessRejection, ConnectorError
from connectors.status_webhooks import post_standard_webhook
from domain.notification import Delivery, OutboundMessage

UPSTREAM = "message_webhook"
EVENT_TYPE = "notification.requested"


class Recipient(BaseModel):
    email: str | None = None
    phone: str | None = None


class NotificationRequested(BaseModel):
    notification_id: str
    order_id: str
    event: str | None
    locale: str | None
    recipient: Recipient
    subject: str
    text: str
    html: str | None
    sms: str | None


class MessageEnvelope(BaseModel):
    type: str = EVENT_TYPE
    timestamp: datetime
    data: NotificationRequested


def _refused(response: httpx.Response) -> ConnectorError | None:
    if response.status_code in (400, 404, 410, 422):
        return BusinessRejection(f"{UPSTREAM}: HTTP {response.status_code}", upstream=UPSTREAM, code="message_rejected")
    return None


class MessageWebhookNotifier:
    """``Notifier`` for ``channel="webhook"``: ``message.recipient`` is the endpoint URL; the customer's
    contacts travel in the body (``contacts`` given per message by the channel router)."""

    def __init__(self, http: httpx.AsyncClient, *, secret: str) -> None:
        self._http = http
        self._secret = secret

    async def send(self, message: OutboundMessage, *, contacts: Recipient | None = None) -> Delivery:
        envelope = MessageEnvelope(
            timestamp=datetime.now(UTC),
            data=NotificationRequested(
                notification_id=message.notification_id,
                order_id=message.order_id,
                event=message.event,
                locale=message.locale,
                recipient=contacts or Recipient(),
                subject=message.subject,
                text=message.text,
                html=message.html,
                sms=message.short_text,
            ),
        )
        await post_standard_webhook(
            self._http,
            message.recipient,
            secret=self._secret,
            message_id=message.notification_id,
            body=envelope.model_dump_json().encode(),
            upstream=UPSTREAM,
            vendor=_refused,
        )
        return Delivery(notification_id=message.notification_id, channel="webhook", accepted=True)
