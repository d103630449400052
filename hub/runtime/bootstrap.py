"""The one composition root: settings → Temporal client → upstream connectors → activities → a worker, or the
API application.

Every default is production's; every dependency can be passed in instead: tests hand in fakes of the ports as
:class:`Upstreams`, a client of their own, their own task queue. ``python worker.py`` and ``python -m api`` are
thin entry points over this module.

The runtime sits below the API and does not import it (``tests/unit/test_architecture.py``): ``python -m api``
passes its application factory to :func:`api_app`.
"""

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.worker import Worker, WorkflowRunner

from activities.boundary import ConnectorBoundaryInterceptor
from activities.inventory import InventoryActivities
from activities.notifications import NotificationActivities
from activities.payment import PaymentActivities
from activities.shipping import ShippingActivities
from activities.status_events import StatusEventActivities
from connectors.ports import Carrier, Inventory, Notifier, PaymentGateway, StatusPublisher
from hub.runtime.logging import configure_logging
from hub.runtime.sandbox import workflow_runner
from hub.runtime.settings import Settings, WorkerSettings
from hub.runtime.telemetry import prometheus_runtime, tracing_interceptors
from hub.runtime.temporal import connect_temporal
from hub.runtime.upstreams import Upstreams, open_upstreams
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow

App = TypeVar("App")

WORKFLOWS: Sequence[type] = (OrderWorkflow, ReturnWorkflow)
"""Every workflow a hub worker runs."""

GRACEFUL_SHUTDOWN_TIMEOUT = WorkerSettings().graceful_shutdown_timeout
"""Production's: how long a stopping worker lets its running activities finish."""


def load_settings() -> Settings:
    """The settings from the environment, and logging configured by them: what every process does first."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


async def connect_worker_client(settings: Settings) -> Client:
    """The worker's Temporal client: with the Prometheus runtime (``metrics.bind_address``) and tracing
    (``tracing.exporter``) when configured; the worker inherits both from it."""
    return await connect_temporal(
        settings,
        runtime=prometheus_runtime(settings.metrics.bind_address),
        interceptors=tracing_interceptors(settings.tracing, "worker"),
    )


async def connect_api_client(settings: Settings) -> Client:
    """The API's Temporal client: its own metrics endpoint (``metrics.api_bind_address``) and tracing."""
    return await connect_temporal(
        settings,
        runtime=prometheus_runtime(settings.metrics.api_bind_address),
        interceptors=tracing_interceptors(settings.tracing, "api"),
    )


def activity_functions(
    *,
    payment: PaymentGateway,
    inventory: Inventory,
    carrier: Carrier,
    notifier: Notifier,
    publisher: StatusPublisher,
) -> list[Callable[..., Any]]:
    """Every activity the workflows call, bound to the given connectors."""
    payments = PaymentActivities(payment)
    stock = InventoryActivities(inventory)
    shipping = ShippingActivities(carrier)
    notifications = NotificationActivities(notifier)
    status_events = StatusEventActivities(publisher)
    return [
        payments.authorize,
        payments.capture,
        payments.reverse,
        payments.refund,
        payments.charge,
        stock.reserve,
        stock.release,
        stock.commit,
        stock.receive_return,
        shipping.buy_label,
        shipping.void_label,
        shipping.track,
        notifications.notify,
        status_events.publish,
    ]


def worker(
    client: Client,
    task_queue: str,
    upstreams: Upstreams,
    *,
    workflows: Sequence[type] = WORKFLOWS,
    runner: WorkflowRunner | None = None,
    graceful_shutdown_timeout: timedelta = GRACEFUL_SHUTDOWN_TIMEOUT,
) -> Worker:
    """A worker (not yet started) for ``workflows`` on ``task_queue``, its activities bound to ``upstreams``.
    Shut down, it lets running activities finish for ``graceful_shutdown_timeout`` before cancelling them."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activity_functions(
            payment=upstreams.payment,
            inventory=upstreams.inventory,
            carrier=upstreams.carrier,
            notifier=upstreams.notifier,
            publisher=upstreams.publisher,
        ),
        interceptors=[ConnectorBoundaryInterceptor()],
        workflow_runner=runner or workflow_runner(client.data_converter),
        graceful_shutdown_timeout=graceful_shutdown_timeout,
    )


@contextlib.asynccontextmanager
async def _upstreams(settings: Settings, given: Upstreams | None) -> AsyncIterator[Upstreams]:
    if given is not None:
        yield given
        return
    async with open_upstreams(settings) as opened:
        yield opened


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, task_queue: str | None = None, *, upstreams: Upstreams | None = None
) -> AsyncIterator[Worker]:
    """A started worker on ``task_queue`` (default: the settings'), over ``upstreams`` or the production
    connectors ``settings`` configure, open until the context exits. Leaving it drains: the running activities
    have ``settings.worker.graceful_shutdown_timeout`` to finish, and the connectors stay open until they have."""
    async with (
        _upstreams(settings, upstreams) as opened,
        worker(
            client,
            task_queue or settings.temporal.task_queue,
            opened,
            graceful_shutdown_timeout=settings.worker.graceful_shutdown_timeout,
        ) as started,
    ):
        yield started


@contextlib.asynccontextmanager
async def api_app(
    settings: Settings,
    create_app: Callable[[Settings, Client, Upstreams], App],
    *,
    temporal: Client | None = None,
    upstreams: Upstreams | None = None,
) -> AsyncIterator[App]:
    """The API application ``create_app`` builds over a Temporal client (default: :func:`connect_api_client`)
    and the upstreams (default: the production connectors), which stay open until the context exits."""
    client = temporal or await connect_api_client(settings)
    async with _upstreams(settings, upstreams) as opened:
        yield create_app(settings, client, opened)
