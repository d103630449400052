"""``/webhooks/{erp,carrier,payment}``: events pushed by upstreams, verified, deduplicated, handed to the order.

Per request: verify the signature over the raw bytes (and its freshness), parse into a normalised event, then
signal the order's workflow by business id and answer 202. A request refused at any step changes nothing.
Temporal unreachable → 503, so the sender retries later with the same event id.

What is verified but not for the hub is acknowledged, not refused: an event id already delivered (the sender's
retry after a lost answer: ``duplicate``), an unknown type (``ignored``), a shipment or payment the hub did not
create (``not_routed``). Senders retry a 4xx for days and end up disabling the endpoint. Only a repeat that
arrives while the first delivery is still under way gets 409: the first may yet fail, so the sender must come
back.
"""

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.inbound import InboundRejected, Unhandled, parse_carrier, parse_erp, parse_payment
from api.problems import Problem, documented
from api.replay_guard import ReplayGuard
from connectors.webhook_signatures import SignatureRejected, verify_easypost, verify_standard, verify_stripe
from domain.events import NOT_SIGNALLED_TO_ORDERS, StockEvent, UpstreamEvent
from domain.keys import rma_id_of
from domain.returns import WarehouseReceipt
from hub.client import OrderClient
from hub.runtime.settings import WebhookSecrets

log = structlog.get_logger("hub.webhooks")

Resolver = Callable[[str], Awaitable[str | None]]

LOOKUPS_KEPT = 10_000


def remembered(resolve: Resolver, capacity: int = LOOKUPS_KEPT) -> Resolver:
    """``resolve`` with its answers kept (the newest ``capacity``). A shipment's reference and a payment's order
    never change, and a parcel sends several scans: each would otherwise cost a call to the vendor's API, which
    counts against its rate limit. Not found is not kept: the object may appear a moment later."""
    known: OrderedDict[str, str] = OrderedDict()

    async def lookup(key: str) -> str | None:
        if key in known:
            known.move_to_end(key)
            return known[key]
        value = await resolve(key)
        if value is not None:
            known[key] = value
            if len(known) > capacity:
                known.popitem(last=False)
        return value

    return lookup


Inbound = UpstreamEvent | StockEvent | WarehouseReceipt


class WebhookAccepted(BaseModel):
    event_id: str | None
    outcome: Literal["delivered", "order_ended", "duplicate", "ignored", "not_routed"]
    """``delivered`` to the order's workflow (or the RMA's, for a return parcel or a return receipt, or to every
    order waiting for a SKU's stock); ``order_ended`` the order or RMA has finished (nothing to move);
    ``duplicate`` this event id was already delivered; ``ignored`` a kind of event the hub does not act on (or news
    an order need not hear, see ``NOT_SIGNALLED_TO_ORDERS``); ``not_routed`` stock news no order waits for, or a
    shipment or payment the hub did not create."""
    orders_woken: int | None = None
    """For stock events: how many waiting orders were handed the event."""


def webhooks_router(
    orders: OrderClient,
    secrets: WebhookSecrets,
    *,
    shipment_reference: Resolver,
    order_of_payment: Resolver,
    replays: ReplayGuard | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    guard = replays or ReplayGuard()
    shipment_reference, order_of_payment = remembered(shipment_reference), remembered(order_of_payment)
    refusals = documented(400, 401, 409, 413, 422, 503)
    delivering: set[str] = set()

    def secret_of(source: str) -> str:
        secret = getattr(secrets, source)
        if secret is None:
            raise Problem(503, "Webhook source not configured", f"no secret is configured for {source}")
        return str(secret.get_secret_value())

    async def deliver(event: Inbound | None, now: datetime) -> WebhookAccepted:
        if event is None:
            return WebhookAccepted(event_id=None, outcome="ignored")
        if event.event_id in delivering:
            raise Problem(409, "Event being delivered", f"event {event.event_id} is being delivered: retry later")
        if guard.seen(event.event_id, now):
            log.info("event_duplicate", event_id=event.event_id)
            return WebhookAccepted(event_id=event.event_id, outcome="duplicate")
        delivering.add(event.event_id)
        try:
            if isinstance(event, StockEvent):
                woken = await orders.wake_orders_waiting_for(event)
                log.info("stock_event", event_id=event.event_id, sku=event.sku, orders_woken=woken)
                outcome = "delivered" if woken else "not_routed"
                return WebhookAccepted(event_id=event.event_id, outcome=outcome, orders_woken=woken)
            if isinstance(event, WarehouseReceipt):
                delivered = await orders.record_warehouse_receipt(event)
                log.info("return_received", event_id=event.event_id, order_id=event.order_id, rma_id=event.rma_id)
            elif (rma_id := rma_id_of(event.shipment_reference or "")) is not None:
                # A scan of a return parcel or a replacement belongs to the RMA's own workflow.
                delivered = await orders.record_return_event(rma_id, event)
                log.info("event_received", event_id=event.event_id, kind=event.kind.value, rma_id=rma_id)
            elif event.kind in NOT_SIGNALLED_TO_ORDERS:
                log.info("event_not_needed", event_id=event.event_id, kind=event.kind.value, order_id=event.order_id)
                return WebhookAccepted(event_id=event.event_id, outcome="ignored")
            else:
                delivered = await orders.record_event(event)
                log.info("event_received", event_id=event.event_id, kind=event.kind.value, order_id=event.order_id)
        except Exception:
            guard.forget(event.event_id)  # let the sender's retry through
            log.exception("event_not_delivered", event_id=event.event_id)
            raise Problem(503, "Temporarily unavailable", "the event could not be delivered; retry later") from None
        finally:
            delivering.discard(event.event_id)
        return WebhookAccepted(event_id=event.event_id, outcome="delivered" if delivered else "order_ended")

    async def receive(
        request: Request, verify: Callable[[bytes, datetime], Awaitable[Inbound | None]]
    ) -> WebhookAccepted:
        body = await request.body()
        now = datetime.now(UTC)
        try:
            event = await verify(body, now)
        except SignatureRejected as rejected:
            raise Problem(401, "Invalid signature", str(rejected)) from None
        except InboundRejected as rejected:
            raise Problem(rejected.status, "Event refused", rejected.reason) from None
        except Unhandled as unhandled:
            log.info("event_not_for_the_hub", path=request.url.path, outcome=unhandled.outcome, reason=unhandled.reason)
            return WebhookAccepted(event_id=None, outcome=unhandled.outcome)
        return await deliver(event, now)

    @router.post("/erp", status_code=202, responses=refusals)
    async def erp_event(request: Request) -> WebhookAccepted:
        """ERP events, signed with Standard Webhooks (see docs/erp-holds-api.md)."""

        async def verify(body: bytes, now: datetime) -> Inbound | None:
            event_id = verify_standard(secret_of("erp"), request.headers, body, now)
            return parse_erp(body, event_id)

        return await receive(request, verify)

    @router.post("/carrier", status_code=202, responses=refusals)
    async def carrier_event(request: Request) -> WebhookAccepted:
        """EasyPost tracker events, signed with ``X-Hmac-Signature``."""

        async def verify(body: bytes, now: datetime) -> UpstreamEvent | None:
            verify_easypost(secret_of("carrier"), request.headers, body)
            return await parse_carrier(body, now, shipment_reference)

        return await receive(request, verify)

    @router.post("/payment", status_code=202, responses=refusals)
    async def payment_event(request: Request) -> WebhookAccepted:
        """Stripe events (refunds, disputes), signed with ``Stripe-Signature``."""

        async def verify(body: bytes, now: datetime) -> UpstreamEvent | None:
            verify_stripe(secret_of("payment"), request.headers, body, now)
            return await parse_payment(body, order_of_payment)

        return await receive(request, verify)

    return router
