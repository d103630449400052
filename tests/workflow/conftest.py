"""Workflow tests: the real workflow and activity classes over in-memory ports, on the real dev server."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from hub.client import OrderClient
from tests.fakes import Effects, FakeCarrier, FakeInventory, FakeNotifier, FakePayments, FakePublisher
from tests.orders import policy
from worker import activity_functions, order_worker


@dataclass
class FakeHub:
    """A worker over fakes plus the client to drive it."""

    orders: OrderClient
    env: WorkflowEnvironment
    effects: Effects
    payments: FakePayments
    inventory: FakeInventory
    carrier: FakeCarrier
    notifier: FakeNotifier
    publisher: FakePublisher


@pytest.fixture
async def fake_hub(temporal_env: WorkflowEnvironment) -> AsyncIterator[FakeHub]:
    effects = Effects()
    hub = FakeHub(
        orders=OrderClient(
            temporal_env.client,
            task_queue=f"orders-{uuid.uuid4().hex}",
            policy=policy(tracking_poll_interval=timedelta(milliseconds=200), publish_status_events=True),
        ),
        env=temporal_env,
        effects=effects,
        payments=FakePayments(effects),
        inventory=FakeInventory(effects),
        carrier=FakeCarrier(effects),
        notifier=FakeNotifier(effects),
        publisher=FakePublisher(),
    )
    fns = activity_functions(
        payment=hub.payments,
        inventory=hub.inventory,
        carrier=hub.carrier,
        notifier=hub.notifier,
        publisher=hub.publisher,
    )
    async with order_worker(temporal_env.client, hub.orders.task_queue, fns):
        yield hub
