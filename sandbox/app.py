"""Composition: one Starlette app serving every HTTP upstream, plus the SMTP server and the webhook delivery
workers in its lifespan.

Everything shares one event loop and one in-memory state, so the ledger sees the effects of all upstreams in
order and a test can drive them together.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from sandbox.config import SandboxConfig
from sandbox.control import ControlApi
from sandbox.easypost_api import EasyPostApi
from sandbox.erp_api import ErpApi
from sandbox.faults import FaultEngine
from sandbox.ledger import Ledger
from sandbox.mail import Mailbox, start_smtp_server
from sandbox.stripe_api import StripeApi
from sandbox.twilio_api import API_VERSION as TWILIO_API_VERSION
from sandbox.twilio_api import TwilioApi
from sandbox.webhooks import WebhookDispatcher


@dataclass(frozen=True)
class Components:
    """The sandbox's state holders, reachable as ``app.state.sandbox`` (handy for in-process tests)."""

    config: SandboxConfig
    ledger: Ledger
    faults: FaultEngine
    stripe: StripeApi
    carrier: EasyPostApi
    erp: ErpApi
    mailbox: Mailbox
    webhooks: WebhookDispatcher
    twilio: TwilioApi


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and methods answer JSON that every vendor client can parse as an error object."""
    assert isinstance(exc, HTTPException)
    message = f"Unrecognized request URL ({request.method}: {request.url.path})."
    code = "not_found" if exc.status_code == 404 else "method_not_allowed"
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message, "errors": []}}
    return JSONResponse(body, status_code=exc.status_code)


def create_app(config: SandboxConfig) -> Starlette:
    """Build the sandbox application; the SMTP server and the webhook workers start and stop with the app's
    lifespan (as do the carrier's tracking schedulers, started per purchase)."""
    ledger = Ledger()
    faults = FaultEngine(seed=config.seed, hang_seconds=config.hang_seconds)
    webhooks = WebhookDispatcher()
    components = Components(
        config=config,
        ledger=ledger,
        faults=faults,
        stripe=StripeApi(ledger, faults, webhooks),
        carrier=EasyPostApi(ledger, faults, transit_seconds=config.transit_seconds, webhooks=webhooks),
        erp=ErpApi(ledger, faults, default_stock=config.default_stock, webhooks=webhooks),
        mailbox=Mailbox(ledger, faults),
        webhooks=webhooks,
        twilio=TwilioApi(ledger, faults),
    )
    control = ControlApi(
        ledger,
        faults,
        components.erp,
        components.carrier,
        components.mailbox,
        components.stripe,
        webhooks,
        components.twilio,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        smtp = await start_smtp_server(components.mailbox, config.host, config.smtp_port)
        await webhooks.start()
        try:
            yield
        finally:
            await components.carrier.aclose()
            await webhooks.stop()
            smtp.close()
            # Bounded: an SMTP client that keeps its connection open must not block shutdown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(smtp.wait_closed(), timeout=1)

    app = Starlette(
        routes=[
            Mount("/v1", routes=components.stripe.routes()),
            Mount("/v2", routes=components.carrier.routes()),
            Mount("/erp", routes=components.erp.routes()),
            Mount(f"/{TWILIO_API_VERSION}", routes=components.twilio.routes()),
            Mount("/_sandbox", routes=control.routes() + components.carrier.public_routes()),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = components
    return app
