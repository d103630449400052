"""Webhook pushes: the sandbox sends signed events to the hub the way Stripe, EasyPost and the ERP do.

Each source (``carrier``, ``payment``, ``erp``) is configured at run time with a URL and a secret
(``PUT /_sandbox/webhooks``); nothing is queued or sent for a source that is not configured. An event is
serialised once, when it happens; every attempt POSTs the same bytes with fresh signature headers
(``sandbox.signatures``, the sandbox's own code, not the hub's): EasyPost ``X-Hmac-Signature``, Stripe
``Stripe-Signature``, Standard Webhooks ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` for the ERP.

Delivery: the events about one object (a tracker, a payment intent, a hold, a SKU's stock) arrive in the order
they happened, one at a time (a delivery being retried holds back the ones behind it); different objects' events
go out side by side, up to 16 requests at once per source, as the vendors' own senders do. A single queue per
source would make the sandbox, not the hub, the bottleneck of a load test. An answer other than 2xx, a timeout
(5 s) or a transport error is a failed attempt; the next one follows after 0.5 s, doubling (0.5, 1, 2, 4, 8 s); after
6 failed attempts the event is dropped. A delivery belongs to the endpoint configured when its event
happened: when that source's endpoint is changed or removed, its pending deliveries are discarded (a
waiting retry wakes up at once), so a new receiver never gets an old endpoint's events.

Event ids are derived, not random: ``evt_`` + the first 24 hex digits of sha256 over
``{type}:{object id}:{status}``, with ``:{n}`` appended when an object reaches the same status for the n-th
time (n ≥ 2). A redelivery repeats its event's id, and the same change always gets the same id.
"""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, field_validator

from sandbox.signatures import easypost_headers, standard_webhooks_headers, stripe_headers

Source = Literal["carrier", "payment", "erp"]
SOURCES: tuple[Source, ...] = ("carrier", "payment", "erp")

TIMEOUT_SECONDS = 5.0
CONCURRENT_DELIVERIES = 16
MAX_ATTEMPTS = 6
FIRST_BACKOFF_SECONDS = 0.5
USER_AGENT = "order-hub-sandbox-webhooks/1.0"

_log = logging.getLogger(__name__)
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


class Endpoint(BaseModel):
    """Where one source's events go and the secret they are signed with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, Field(min_length=1, max_length=2000)]
    secret: Annotated[str, Field(min_length=1, max_length=500)]

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        _HTTP_URL.validate_python(value)  # http or https with a host; the URL is kept exactly as given
        return value


class ErpEndpoint(Endpoint):
    """The ERP signs with Standard Webhooks, whose secret is ``whsec_`` followed by base64."""

    @field_validator("secret")
    @classmethod
    def _standard_secret(cls, value: str) -> str:
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            key = b""
        if not value.startswith("whsec_") or not key:
            raise ValueError("an ERP secret is whsec_ followed by non-empty base64")
        return value


class WebhookSettings(BaseModel):
    """Body of ``PUT /_sandbox/webhooks``: a missing or null source is not configured."""

    model_config = ConfigDict(extra="forbid")

    carrier: Endpoint | None = None
    payment: Endpoint | None = None
    erp: ErpEndpoint | None = None


@dataclass(frozen=True)
class Delivery:
    """One event to push: its serialised body and the endpoint generation it was queued for."""

    source: Source
    event_id: str
    body: bytes
    generation: int


def _mask(secret: str) -> str:
    """A secret as ``GET`` shows it: the ``whsec_`` prefix and, for a long one, its last four characters."""
    prefix = "whsec_" if secret.startswith("whsec_") else ""
    rest = secret.removeprefix(prefix)
    return prefix + "****" + (rest[-4:] if len(rest) >= 16 else "")


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_micros(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _empty_stats() -> dict[str, int]:
    return {"sent": 0, "failed_attempts": 0, "dropped": 0}


class WebhookDispatcher:
    """Builds the vendors' event envelopes and pushes them, in order per object, objects side by side.

    ``start``/``stop`` run with the app's lifespan. The emitters (``tracker_updated``, ``stripe_event``,
    ``erp_event``) are synchronous and never block: they only queue.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        first_backoff_seconds: float = FIRST_BACKOFF_SECONDS,
    ) -> None:
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._first_backoff = first_backoff_seconds
        self._endpoints: dict[Source, Endpoint | None] = dict.fromkeys(SOURCES)
        self._generation: dict[Source, int] = dict.fromkeys(SOURCES, 0)
        self._changed: dict[Source, asyncio.Event] = {source: asyncio.Event() for source in SOURCES}
        # One lane per (source, object): its deliveries in order, drained by one task while it has any.
        self._lanes: dict[tuple[Source, str], deque[Delivery]] = {}
        self._in_flight = {source: asyncio.Semaphore(CONCURRENT_DELIVERIES) for source in SOURCES}
        self._drainers: set[asyncio.Task[None]] = set()
        self._stats: dict[Source, dict[str, int]] = {source: _empty_stats() for source in SOURCES}
        self._occurrences: Counter[tuple[str, str, str]] = Counter()
        self._client: httpx.AsyncClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP client; deliveries start as events happen."""
        self._client = httpx.AsyncClient(
            timeout=self._timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=len(SOURCES) * CONCURRENT_DELIVERIES),
        )

    async def stop(self) -> None:
        """Stop delivering (pending deliveries are lost: the sandbox keeps nothing across restarts)."""
        drainers = list(self._drainers)
        for drainer in drainers:
            drainer.cancel()
        await asyncio.gather(*drainers, return_exceptions=True)
        self._lanes.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- configuration -----------------------------------------------------------------------------

    def configure(self, settings: WebhookSettings) -> None:
        """Replace every source's endpoint and restart the statistics.

        A source whose endpoint changed (or was removed) discards its pending deliveries.
        """
        for source in SOURCES:
            endpoint: Endpoint | None = getattr(settings, source)
            if endpoint != self._endpoints[source]:
                self._endpoints[source] = endpoint
                self._generation[source] += 1
                self._changed[source].set()  # wakes a retry waiting for its backoff
                self._changed[source] = asyncio.Event()
        self._stats = {source: _empty_stats() for source in SOURCES}

    def clear(self) -> None:
        """No source configured: nothing is sent."""
        self.configure(WebhookSettings())

    def snapshot(self) -> dict[str, Any]:
        """The configuration with masked secrets."""
        return {
            source: None if endpoint is None else {"url": endpoint.url, "secret": _mask(endpoint.secret)}
            for source, endpoint in self._endpoints.items()
        }

    def stats_snapshot(self) -> dict[str, dict[str, int]]:
        """Per source: deliveries acknowledged (``sent``), attempts that failed, events given up on."""
        return {source: dict(counts) for source, counts in self._stats.items()}

    # -- emitters ----------------------------------------------------------------------------------

    def event_id(self, event_type: str, object_id: str, status: str) -> str:
        """The id of the next event that brings ``object_id`` to ``status`` (counts the occurrence)."""
        key = (event_type, object_id, status)
        self._occurrences[key] += 1
        occurrence = self._occurrences[key]
        material = f"{event_type}:{object_id}:{status}" + (f":{occurrence}" if occurrence > 1 else "")
        return "evt_" + hashlib.sha256(material.encode()).hexdigest()[:24]

    def tracker_updated(self, tracker: dict[str, Any]) -> None:
        """An EasyPost ``tracker.updated`` Event carrying the tracker as it is now."""
        event_id = self.event_id("tracker.updated", tracker["id"], tracker["status"])
        event = {
            "id": event_id,
            "object": "Event",
            "description": "tracker.updated",
            "created_at": _iso_seconds(datetime.now(UTC)),
            "mode": "test",
            "result": tracker,
        }
        self._enqueue("carrier", tracker["id"], event_id, event)

    def stripe_event(self, event_type: str, obj: dict[str, Any]) -> None:
        """A Stripe Event of ``event_type`` whose ``data.object`` is ``obj`` (keyed by its id and status)."""
        event_id = self.event_id(event_type, obj["id"], obj["status"])
        event = {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
        self._enqueue("payment", obj["id"], event_id, event)

    def erp_event(self, event_type: str, object_id: str, status: str, data: dict[str, Any]) -> None:
        """A Standard Webhooks payload ``{"type", "timestamp", "data"}``; the event id goes in ``webhook-id``."""
        event_id = self.event_id(event_type, object_id, status)
        payload = {"type": event_type, "timestamp": _iso_micros(datetime.now(UTC)), "data": data}
        self._enqueue("erp", object_id, event_id, payload)

    def _enqueue(self, source: Source, object_id: str, event_id: str, payload: dict[str, Any]) -> None:
        if self._endpoints[source] is None:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(source, event_id, body, self._generation[source])
        lane = (source, object_id)
        if lane in self._lanes:
            self._lanes[lane].append(delivery)  # behind the object's earlier events
            return
        self._lanes[lane] = deque([delivery])
        drainer = asyncio.create_task(self._drain(lane), name=f"webhooks-{source}-{object_id}")
        self._drainers.add(drainer)
        drainer.add_done_callback(self._drainers.discard)

    # -- delivery ----------------------------------------------------------------------------------

    def _endpoint_for(self, delivery: Delivery) -> Endpoint | None:
        """The endpoint a delivery still goes to; ``None`` once its source was reconfigured or cleared."""
        if self._generation[delivery.source] != delivery.generation:
            return None
        return self._endpoints[delivery.source]

    async def _drain(self, lane: tuple[Source, str]) -> None:
        pending = self._lanes[lane]
        try:
            while pending:
                delivery = pending[0]
                try:
                    await self._deliver(delivery)
                except Exception:  # a bug must not stop the object's later deliveries
                    _log.exception("webhook delivery %s failed unexpectedly", delivery.event_id)
                pending.popleft()
        finally:
            self._lanes.pop(lane, None)

    async def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(1, self._max_attempts + 1):
            endpoint = self._endpoint_for(delivery)
            if endpoint is None:
                return
            delivered = await self._attempt(endpoint, delivery)
            if self._endpoint_for(delivery) is None:
                return  # reconfigured while in flight: the new configuration's statistics are not its
            stats = self._stats[delivery.source]
            if delivered:
                stats["sent"] += 1
                return
            stats["failed_attempts"] += 1
            if attempt == self._max_attempts:
                stats["dropped"] += 1
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed[delivery.source].wait(), self._first_backoff * 2 ** (attempt - 1))

    async def _attempt(self, endpoint: Endpoint, delivery: Delivery) -> bool:
        """One POST, signed now; whether the receiver acknowledged it with a 2xx."""
        assert self._client is not None, "WebhookDispatcher.start() was not called"
        now = datetime.now(UTC)
        if delivery.source == "carrier":
            signature = easypost_headers(endpoint.secret, delivery.body)
        elif delivery.source == "payment":
            signature = stripe_headers(endpoint.secret, delivery.body, now)
        else:
            signature = standard_webhooks_headers(endpoint.secret, delivery.event_id, delivery.body, now)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **signature}
        try:
            async with self._in_flight[delivery.source]:
                response = await self._client.post(endpoint.url, content=delivery.body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL):
            return False
        return 200 <= response.status_code < 300
