"""Order status events to the retailer's own backends, as signed Standard Webhooks POSTs.

Delivery is at least once: a subscriber that answered 2xx may see an event again when another subscriber's
failure makes Temporal retry the batch; the ``webhook-id`` header (the event id) lets it drop the repeat.
Events are sent in the order given, and a failure stops the batch, so no subscriber sees a gap.
"""

from datetime import UTC, datetime

import httpx

from connectors.errors import ConnectorError, TransientError
from connectors.http import VendorRule, send
from connectors.webhook_signatures import sign_standard
from domain.order_view import OrderStatusChanged

UPSTREAM = "subscriber"


def _not_accepted(response: httpx.Response) -> ConnectorError:
    # Whatever a subscriber answers other than 2xx, the event is not delivered yet: keep trying.
    return TransientError(f"{UPSTREAM}: HTTP {response.status_code}", upstream=UPSTREAM)


class StandardWebhookPublisher:
    """``StatusPublisher`` posting to each configured subscriber URL."""

    def __init__(self, http: httpx.AsyncClient, *, subscribers: list[str], secret: str) -> None:
        self._http = http
        self._subscribers = subscribers
        self._secret = secret

    async def publish(self, events: list[OrderStatusChanged]) -> None:
        for event in events:
            body = event.model_dump_json().encode()
            for url in self._subscribers:
                await self._post(url, event.event_id, body)

    async def _post(self, url: str, event_id: str, body: bytes) -> None:
        await post_standard_webhook(
            self._http,
            url,
            secret=self._secret,
            message_id=event_id,
            body=body,
            upstream=UPSTREAM,
            vendor=_not_accepted,
        )


async def post_standard_webhook(
    http: httpx.AsyncClient,
    url: str,
    *,
    secret: str,
    message_id: str,
    body: bytes,
    upstream: str,
    vendor: VendorRule,
) -> httpx.Response:
    """POST ``body`` as JSON with Standard Webhooks signature headers (``webhook-id`` = ``message_id``, the
    receiver's dedupe key), signed at this attempt; ``vendor`` reads the receiver's non-2xx answers."""
    headers = {"Content-Type": "application/json", **sign_standard(secret, message_id, datetime.now(UTC), body)}
    return await send(
        lambda: http.post(url, content=body, headers=headers), upstream=upstream, mutation=True, vendor=vendor
    )
