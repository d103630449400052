"""The API application: orders for backends (bearer keys), webhooks for upstreams (signatures), health."""

from fastapi import FastAPI
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.runtime import Runtime

from api import docs_pages, metrics, problems
from api.auth import Authenticator
from api.body_limit import BodyLimit
from api.codec import codec_router
from api.customers import customers_router
from api.orders import orders_router
from api.problems import Problem, documented
from api.returns import returns_router
from api.webhooks import webhooks_router
from hub.client import OrderClient
from hub.runtime.settings import Settings
from hub.runtime.upstreams import Upstreams


class Health(BaseModel):
    status: str


def create_app(settings: Settings, temporal: Client, upstreams: Upstreams) -> FastAPI:
    app = FastAPI(
        title="Order Hub",
        version="1",
        description="Place and steer orders; receive upstream events. Errors are RFC 9457 problem details.",
        docs_url=None,  # api/docs_pages.py serves them without a CDN
        redoc_url=None,
    )
    docs_pages.install(app)
    problems.install(app)
    orders = OrderClient(
        temporal, task_queue=settings.temporal.task_queue, policy=settings.orders.policy(settings.events)
    )
    app.include_router(orders_router(orders, Authenticator(settings.api.keys)))
    app.include_router(returns_router(orders, Authenticator(settings.api.keys)))
    app.include_router(customers_router(orders, Authenticator(settings.api.keys)))
    if (codec := temporal.data_converter.payload_codec) is not None:
        # Only when payloads are encrypted: the Web UI and CLI decode histories through it.
        app.include_router(
            codec_router(
                codec,
                Authenticator(settings.api.keys),
                namespace=settings.temporal.namespace,
                ui_origin=settings.api.codec_cors_origin,
            )
        )
    app.include_router(
        webhooks_router(
            orders,
            settings.api.webhooks,
            shipment_reference=upstreams.carrier.reference_of,
            order_of_payment=upstreams.payment.order_of,
        )
    )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get("/readyz", tags=["health"], responses=documented(503))
    async def readyz() -> Health:
        """Temporal is reachable: orders can be placed."""
        try:
            healthy = await temporal.service_client.check_health()
        except Exception:
            healthy = False
        if not healthy:
            raise Problem(503, "Not ready", "Temporal is not reachable")
        return Health(status="ready")

    # The client's runtime serves Prometheus when HUB_METRICS__API_BIND_ADDRESS is set (bootstrap.connect_api_client).
    metrics.install(app, (temporal.service_client.config.runtime or Runtime.default()).metric_meter)
    app.add_middleware(BodyLimit, limit=settings.api.max_body_bytes)
    return app
