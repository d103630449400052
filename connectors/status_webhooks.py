"""Order status events to the retailer's own backends, as signed Standard Webhooks POSTs.

Delivery is at least once: a subscriber that answered 2xx may see an event again when another subscriber's
failure makes Temporal retry the batch; the ``webhook-id`` header (the event id) lets it drop the repeat.
Events are sent in the order given, and a failure stops the batch, so no subscriber sees a gap.
"""

from datetime import UTC, datetime

import httpx

from connectors.errors import ConnectorError, TransientError
from connectors.http import send
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
        headers = {"Content-Type": "application/json", **sign_standard(self._secret, event_id, datetime.now(UTC), body)}
        await send(
            lambda: self._http.post(url, content=body, headers=headers),
            upstream=UPSTREAM,
            mutation=True,
            vendor=_not_accepted,
        )
