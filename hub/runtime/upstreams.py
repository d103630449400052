"""Building the connectors from settings: one HTTP client per upstream, opened and closed together.

Both processes that talk to upstreams use this: the worker (activities) and the API (resolving a webhook's
shipment or payment back to its order).
"""

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from connectors.channels import ChannelRouter
from connectors.easypost_carrier import EasyPostCarrier
from connectors.message_webhook import MessageWebhookNotifier
from connectors.ports import Carrier, Inventory, Notifier, PaymentGateway, StatusPublisher
from connectors.rest_erp import RestErpInventory
from connectors.smtp_email import SmtpEmailNotifier
from connectors.status_webhooks import StandardWebhookPublisher
from connectors.stripe_payments import StripePaymentGateway
from connectors.twilio_sms import TwilioSmsNotifier
from hub.runtime.settings import HttpUpstream, Settings


@dataclass(frozen=True)
class Upstreams:
    """What the hub needs from each kind of upstream, by its port (``connectors/ports.py``): the production
    connectors from :func:`open_upstreams`, or fakes in tests."""

    payment: PaymentGateway
    inventory: Inventory
    carrier: Carrier
    notifier: Notifier
    """In production a ``ChannelRouter``: email, and SMS / the retailer's webhook where
    ``settings.notifications`` says so."""
    publisher: StatusPublisher


def _http(upstream: HttpUpstream) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=upstream.base_url,
        headers={"Authorization": f"Bearer {upstream.api_key.get_secret_value()}"},
        timeout=httpx.Timeout(upstream.timeout_s),
        # One client per upstream: connection reuse, and one place for its limits. Every connection opened is
        # kept: under a burst, closing all but a few only to open them again costs a handshake each time.
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=50),
    )


async def _channels(settings: Settings, email: SmtpEmailNotifier, stack: AsyncExitStack) -> ChannelRouter:
    """The channel router; an SMS or webhook client is opened only when a notice can use that channel."""
    config = settings.notifications
    used = config.used()
    sms: TwilioSmsNotifier | None = None
    webhook: MessageWebhookNotifier | None = None
    if "sms" in used:
        twilio = config.sms
        sms_http = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=twilio.base_url,
                auth=(twilio.account_sid, twilio.auth_token.get_secret_value()),
                timeout=httpx.Timeout(twilio.timeout_s),
            )
        )
        sms = TwilioSmsNotifier(
            sms_http,
            account_sid=twilio.account_sid,
            sender=twilio.from_number,
            messaging_service_sid=twilio.messaging_service_sid,
        )
    if "webhook" in used and config.webhook.secret is not None:
        hook_http = await stack.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(config.webhook.timeout_s)))
        webhook = MessageWebhookNotifier(hook_http, secret=config.webhook.secret.get_secret_value())
    return ChannelRouter(
        email=email,
        sms=sms,
        webhook=webhook,
        webhook_url=config.webhook.url,
        channels=config.channels,
        per_event=config.events,
    )


@contextlib.asynccontextmanager
async def open_upstreams(settings: Settings) -> AsyncIterator[Upstreams]:
    """The production connectors as ``settings`` configure them, with their HTTP clients and SMTP connections
    open for the duration."""
    async with AsyncExitStack() as stack:
        payment_http = await stack.enter_async_context(_http(settings.payment))
        carrier_http = await stack.enter_async_context(_http(settings.carrier))
        erp_http = await stack.enter_async_context(_http(settings.erp))
        events = settings.events
        events_http = await stack.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(events.timeout_s)))
        email = settings.email
        smtp = await stack.enter_async_context(
            SmtpEmailNotifier(
                host=email.host,
                port=email.port,
                sender=email.sender,
                message_id_domain=email.message_id_domain,
                timeout_s=email.timeout_s,
                username=email.username,
                password=email.password.get_secret_value() if email.password else None,
                start_tls=email.start_tls,
            )
        )
        yield Upstreams(
            payment=StripePaymentGateway(payment_http),
            inventory=RestErpInventory(erp_http),
            carrier=EasyPostCarrier(
                carrier_http, ship_from=settings.carrier.ship_from, ship_from_name=settings.carrier.ship_from_name
            ),
            notifier=await _channels(settings, smtp, stack),
            publisher=StandardWebhookPublisher(
                events_http,
                subscribers=events.subscribers,
                secret=events.secret.get_secret_value() if events.secret else "",
            ),
        )
