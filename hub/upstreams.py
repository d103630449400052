"""Building the connectors from settings: one HTTP client per upstream, opened and closed together.

Both processes that talk to upstreams use this: the worker (activities) and the API (resolving a webhook's
shipment or payment back to its order).
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from connectors.channels import ChannelRouter
from connectors.easypost_carrier import EasyPostCarrier
from connectors.message_webhook import MessageWebhookNotifier
from connectors.rest_erp import RestErpInventory
from connectors.smtp_email import SmtpEmailNotifier
from connectors.status_webhooks import StandardWebhookPublisher
from connectors.stripe_payments import StripePaymentGateway
from connectors.twilio_sms import TwilioSmsNotifier
from hub.encryption import data_converter
from hub.settings import HttpUpstream, Settings, TemporalSettings

log = structlog.get_logger("hub.upstreams")


@dataclass(frozen=True)
class Upstreams:
    payment: StripePaymentGateway
    inventory: RestErpInventory
    carrier: EasyPostCarrier
    notifier: ChannelRouter
    """Email, and SMS / the retailer's webhook where ``settings.notifications`` says so."""
    publisher: StandardWebhookPublisher


async def connect_temporal(
    settings: Settings, *, runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """Connect, waiting for the server for up to ``temporal.connect_timeout_s``: processes of a deployment start
    in any order, and a worker that dies because Temporal was a second late helps nobody.

    ``runtime`` carries the metrics exporter and ``interceptors`` the tracing (``hub.telemetry``); workers built
    on the client inherit both, and its data converter, which encrypts payloads when keys are configured
    (``hub.encryption``)."""
    deadline = time.monotonic() + settings.temporal.connect_timeout_s
    pause = 0.2
    while True:
        try:
            return await Client.connect(
                settings.temporal.address,
                namespace=settings.temporal.namespace,
                **security(settings.temporal),
                data_converter=data_converter(settings.temporal),
                interceptors=interceptors,
                runtime=runtime,
            )
        except RuntimeError:
            if time.monotonic() + pause > deadline:
                raise
            log.info("temporal_not_reachable_yet", address=settings.temporal.address, retry_in_s=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


def security(temporal: TemporalSettings) -> dict[str, Any]:
    """How to authenticate to the cluster: nothing (a local dev server), an API key over TLS (Temporal Cloud), or
    mTLS with a client certificate (Cloud or a self-hosted cluster), the server's own CA when it has one."""
    options: dict[str, Any] = {}
    if temporal.tls_cert_file is not None and temporal.tls_key_file is not None:
        ca = temporal.tls_server_ca_file.read_bytes() if temporal.tls_server_ca_file else None
        options["tls"] = TLSConfig(
            client_cert=temporal.tls_cert_file.read_bytes(),
            client_private_key=temporal.tls_key_file.read_bytes(),
            server_root_ca_cert=ca,
        )
    if temporal.api_key is not None:
        options["api_key"] = temporal.api_key.get_secret_value()
        options.setdefault("tls", True)
    return options


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
