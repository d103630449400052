"""Workflow tests: the real workflow and activity classes over in-memory ports, on the real dev server."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.order_view import OrderPolicy
from hub.client import OrderClient
from hub.dev.invariants import Violation
from hub.runtime import bootstrap
from hub.runtime.upstreams import Upstreams
from tests.books import order_violations
from tests.fakes import Effects, FakeCarrier, FakeInventory, FakeNotifier, FakePayments, FakePublisher
from tests.orders import policy


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

    async def check(self, order_id: str) -> list[Violation]:
        """The invariants (``hub.dev.invariants``) the order and its RMAs break, against the fakes' books: call it
        once the order has come to rest."""
        return await order_violations(self.orders, self.effects, self.notifier, self.publisher, order_id)


@asynccontextmanager
async def running_fake_hub(
    env: WorkflowEnvironment,
    task_queue: str,
    order_policy: OrderPolicy,
    payments: Callable[[Effects], FakePayments] = FakePayments,
) -> AsyncIterator[FakeHub]:
    """A worker over fresh fakes on ``task_queue`` (``payments`` builds a payment fake of another kind), and an
    order client using ``order_policy``."""
    effects = Effects()
    hub = FakeHub(
        orders=OrderClient(env.client, task_queue=task_queue, policy=order_policy),
        env=env,
        effects=effects,
        payments=payments(effects),
        inventory=FakeInventory(effects),
        carrier=FakeCarrier(effects),
        notifier=FakeNotifier(effects),
        publisher=FakePublisher(),
    )
    upstreams = Upstreams(
        payment=hub.payments,
        inventory=hub.inventory,
        carrier=hub.carrier,
        notifier=hub.notifier,
        publisher=hub.publisher,
    )
    async with bootstrap.worker(env.client, task_queue, upstreams):
        yield hub


@pytest.fixture
async def fake_hub(temporal_env: WorkflowEnvironment) -> AsyncIterator[FakeHub]:
    fast = policy(tracking_poll_interval=timedelta(milliseconds=200), publish_status_events=True)
    async with running_fake_hub(temporal_env, f"orders-{uuid.uuid4().hex}", fast) as hub:
        yield hub


def orders_moved_by_scans(hub: FakeHub, **changes: object) -> OrderClient:
    """A client of ``hub``'s worker whose orders move only by what the test sends (scans, restocks, decisions):
    tracking is polled, and backorders are re-checked or timed out, only once an hour."""
    settings = {
        "tracking_poll_interval": timedelta(hours=1),
        "backorder_decision_timeout": timedelta(hours=1),
        "backorder_recheck_interval": timedelta(hours=1),
        **changes,
    }
    return OrderClient(hub.env.client, task_queue=hub.orders.task_queue, policy=policy(**settings))
