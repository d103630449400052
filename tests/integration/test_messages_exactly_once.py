"""Issue 5: exactly one message per event, under stress. 200 orders (some declined, some cancelled by the
customer) with transient faults on every upstream, while the worker process is SIGKILLed twice. The SMTP sink
then holds exactly the messages each order's workflow says it sent: none lost, none extra, never two different
messages under one notification id, and none that a later state contradicts (no "shipped" after "cancelled")."""

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.order_view import OrderView
from domain.status import OrderStatus
from hub.client import DecisionRefused, OrderClient
from hub.dev.invariants import message_kind, message_violations, received_ids
from hub.dev.processes import Process
from hub.dev.stack import sandbox_settings
from hub.runtime.settings import to_env
from sandbox.process import SandboxProcess
from tests.eventually import eventually
from tests.integration.conftest import POLICY, UPSTREAM_TIMEOUT_S, LiveHub
from tests.orders import make_order, unique_id

ORDERS, DECLINED, CANCELLED = 200, 20, 10


def at_least(threshold: int) -> Callable[[int], bool]:
    return lambda count: count >= threshold


@pytest.mark.slow  # its checks run in make test through the chaos short form (tests/chaos), on 40 orders
async def test_two_hundred_orders_two_worker_kills_exactly_the_right_messages(
    live_hub: LiveHub, temporal_env: WorkflowEnvironment, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    prefix = unique_id("MSG")
    await live_hub.control.set_faults(
        [{"upstream": "*", "operation": "*", "order_prefix": prefix, "error_rate": 0.2, "faults_per_request": 2}]
    )
    task_queue = f"messages-{uuid.uuid4().hex}"
    address = temporal_env.client.service_client.config.target_host
    env = to_env(
        sandbox_settings(sandbox, temporal_address=address, task_queue=task_queue, timeout_s=UPSTREAM_TIMEOUT_S)
    )
    orders = OrderClient(temporal_env.client, task_queue=task_queue, policy=POLICY)
    placed = [
        make_order(f"{prefix}-{n}", payment_method="pm_card_chargeDeclined" if n < DECLINED else "pm_card_visa")
        for n in range(ORDERS)
    ]

    async def orders_mailed() -> int:
        mail = await live_hub.control.all_mail()
        return len({m["order_id"] for m in mail if (m["order_id"] or "").startswith(prefix)})

    workers = [Process.worker(tmp_path, env, name="worker-1")]
    try:
        await asyncio.gather(*(orders.place(order) for order in placed))
        for order in placed[DECLINED : DECLINED + CANCELLED]:  # some customers change their minds at once
            with contextlib.suppress(DecisionRefused):  # too late: it shipped, and completes with that story
                await orders.cancel(order.order_id)
        for n, threshold in enumerate((40, 120), start=2):
            await eventually(
                orders_mailed,
                at_least(threshold),
                what=f"{threshold} orders mailed",
                timeout_s=120,
            )
            workers[-1].popen.kill()  # SIGKILL: in-flight activities are lost, the next worker takes over
            workers[-1].popen.wait()
            delivered = [m for m in await live_hub.control.all_mail() if ".order-delivered." in m["message_id"]]
            assert sum(m["order_id"].startswith(prefix) for m in delivered) < ORDERS - DECLINED, "kill mid-run"
            workers.append(Process.worker(tmp_path, env, name=f"worker-{n}"))
        views: list[OrderView] = await asyncio.wait_for(
            asyncio.gather(*(orders.result(order.order_id) for order in placed)), timeout=300
        )
    finally:
        for worker in workers:
            worker.stop()

    problems: list[str] = []
    for order, view in zip(placed, views, strict=True):
        mail = await live_hub.control.mail(order.order_id)
        problems += [f"{order.order_id}: {found}" for found in message_violations(view, mail)]
        kinds = [message_kind(sent) for sent in received_ids(mail)]
        if view.status is OrderStatus.COMPLETED and kinds != ["order-confirmed", "order-shipped", "order-delivered"]:
            problems.append(f"{order.order_id}: completed with messages {kinds}")
        if view.status not in (OrderStatus.COMPLETED, OrderStatus.CANCELED):
            problems.append(f"{order.order_id}: ended {view.status.value}")
    assert problems == []
    declined = [v for v in views[:DECLINED] if v.status is OrderStatus.CANCELED]
    assert len(declined) == DECLINED
    assert (await live_hub.control.fault_stats())["transient"] > ORDERS  # the faults really were there
