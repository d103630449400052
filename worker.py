"""The composition root: settings → HTTP clients → connectors → activity classes → Temporal worker.

``python worker.py`` runs a worker against whatever Temporal address ``HUB_TEMPORAL__ADDRESS`` names.
"""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import structlog
import uvloop
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.boundary import ConnectorBoundaryInterceptor
from activities.inventory import InventoryActivities
from activities.notifications import NotificationActivities
from activities.payment import PaymentActivities
from activities.shipping import ShippingActivities
from activities.status_events import StatusEventActivities
from connectors.ports import Carrier, Inventory, Notifier, PaymentGateway, StatusPublisher
from hub.logging import configure_logging
from hub.settings import Settings
from hub.telemetry import prometheus_runtime, tracing_interceptors
from hub.upstreams import connect_temporal, open_upstreams
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow

log = structlog.get_logger("hub.worker")


@contextlib.asynccontextmanager
async def activities(settings: Settings) -> AsyncIterator[list[Callable[..., Any]]]:
    """The activity callables, with their connectors and HTTP clients open for the duration."""
    async with open_upstreams(settings) as upstreams:
        yield activity_functions(
            payment=upstreams.payment,
            inventory=upstreams.inventory,
            carrier=upstreams.carrier,
            notifier=upstreams.notifier,
            publisher=upstreams.publisher,
        )


def activity_functions(
    *,
    payment: PaymentGateway,
    inventory: Inventory,
    carrier: Carrier,
    notifier: Notifier,
    publisher: StatusPublisher,
) -> list[Callable[..., Any]]:
    """Every activity the order workflow calls, bound to the given connectors."""
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


def order_worker(client: Client, task_queue: str, activity_fns: Sequence[Callable[..., Any]]) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow, ReturnWorkflow],
        activities=activity_fns,
        interceptors=[ConnectorBoundaryInterceptor()],
        workflow_runner=workflow_runner(),
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox workflows run in: the worker's, and the replay test's (``tests/replay``), so that a history
    replays exactly as a worker would resume it."""
    return SandboxedWorkflowRunner(
        # pydantic's EmailStr imports these lazily on first validation; loading them once, outside the
        # sandbox, keeps every workflow run from re-importing them.
        restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna")
    )


@contextlib.asynccontextmanager
async def running_worker(client: Client, settings: Settings, task_queue: str | None = None) -> AsyncIterator[Worker]:
    """A started worker for the order workflows; tests use this exact composition."""
    queue = task_queue or settings.temporal.task_queue
    async with activities(settings) as fns, order_worker(client, queue, fns) as worker:
        yield worker


async def connect_worker_client(settings: Settings) -> Client:
    """The worker's Temporal client: with the Prometheus runtime (``metrics.bind_address``) and tracing
    (``tracing.exporter``) when configured; the worker inherits both from it."""
    return await connect_temporal(
        settings,
        runtime=prometheus_runtime(settings.metrics.bind_address),
        interceptors=tracing_interceptors(settings.tracing, "worker"),
    )


async def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    client = await connect_worker_client(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with running_worker(client, settings):
        log.info(
            "worker_started",
            address=settings.temporal.address,
            task_queue=settings.temporal.task_queue,
            metrics=settings.metrics.bind_address,
            tracing=settings.tracing.exporter,
        )
        await stop.wait()
        log.info("worker_stopping")  # leaving the context drains in-flight activities


if __name__ == "__main__":
    uvloop.run(main())
