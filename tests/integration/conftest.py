"""Integration fixtures: the real dev server, the production adapters over HTTP/SMTP, and the sandbox."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client

from domain.order import Order
from domain.order_view import OrderView
from hub.client import OrderClient
from hub.dev.invariants import Books, check
from hub.dev.stack import sandbox_settings
from hub.runtime.bootstrap import running_worker
from hub.runtime.settings import Settings
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from tests.orders import policy

# Shorter than the sandbox's 2 s hold on "timeout after apply" answers, so those really time out here.
UPSTREAM_TIMEOUT_S = 1.0
POLICY = policy(tracking_poll_interval=timedelta(milliseconds=500))


def hub_settings(sandbox: SandboxProcess, temporal_address: str = "unused", task_queue: str = "orders") -> Settings:
    return sandbox_settings(
        sandbox, temporal_address=temporal_address, task_queue=task_queue, timeout_s=UPSTREAM_TIMEOUT_S
    )


@dataclass
class LiveHub:
    orders: OrderClient
    control: SandboxControl

    async def settle(
        self, order: Order, timeout_s: float = 60.0
    ) -> tuple[OrderView, dict[str, Any], list[dict[str, Any]]]:
        """Wait for the order's workflow to end; return its view, the ledger and the mail it caused."""
        view = await asyncio.wait_for(self.orders.result(order.order_id), timeout_s)
        return view, await self.control.ledger(order.order_id), await self.control.mail(order.order_id)

    async def assert_books_balance(self, order: Order, view: OrderView) -> None:
        """The one checker (``hub.dev.invariants``) over the sandbox's books and mail sink."""
        ledger, mail = await self.control.ledger(order.order_id), await self.control.mail(order.order_id)
        rmas = [await self.orders.return_view(rma_id) for rma_id in view.returns]
        assert [str(found) for found in check(view, Books.from_ledger(ledger, mail), rmas)] == []


@pytest.fixture
async def live_hub(temporal_client: Client, sandbox: SandboxProcess, control: SandboxControl) -> AsyncIterator[LiveHub]:
    """An in-process worker built by the bootstrap, as ``python worker.py`` builds it, on a task queue of its own."""
    task_queue = f"orders-{uuid.uuid4().hex}"
    async with running_worker(temporal_client, hub_settings(sandbox), task_queue):
        yield LiveHub(OrderClient(temporal_client, task_queue=task_queue, policy=POLICY), control)
