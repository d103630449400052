"""A worker process SIGKILLed mid-saga: a new worker picks the order up and every side effect happens once."""

import uuid
from collections import Counter
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from domain.status import OrderStatus
from hub.client import OrderClient
from hub.dev.processes import Process
from hub.dev.stack import sandbox_settings
from hub.runtime.settings import to_env
from sandbox.process import SandboxProcess
from tests.eventually import eventually
from tests.integration.conftest import POLICY, UPSTREAM_TIMEOUT_S, LiveHub
from tests.orders import make_order


async def test_worker_killed_mid_saga_the_order_completes_with_each_side_effect_once(
    live_hub: LiveHub, temporal_env: WorkflowEnvironment, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    order = make_order()
    # Slow upstreams keep the saga in flight long enough to kill the worker in the middle of it.
    await live_hub.control.set_faults(
        [{"upstream": "*", "operation": "*", "order_prefix": order.order_id, "latency_ms": 700}]
    )
    task_queue = f"crash-{uuid.uuid4().hex}"
    address = temporal_env.client.service_client.config.target_host
    settings = sandbox_settings(
        sandbox, temporal_address=address, task_queue=task_queue, timeout_s=UPSTREAM_TIMEOUT_S * 2
    )
    env = to_env(settings)
    orders = OrderClient(temporal_env.client, task_queue=task_queue, policy=POLICY)

    first = Process.worker(tmp_path, env, name="worker-1")
    try:
        await orders.place(order)
        await eventually(
            lambda: live_hub.control.ledger(order.order_id),
            lambda ledger: bool(ledger["inventory"]["reserved"]),
            what=f"stock reserved for {order.order_id}",
            timeout_s=60,
        )
        first.popen.kill()  # SIGKILL: no shutdown, in-flight activities are simply lost
        first.popen.wait()
        killed_at = Counter(e["effect"] for e in (await live_hub.control.ledger(order.order_id))["effects"])
        assert killed_at["capture"] == 0, "the kill must land mid-saga"
    finally:
        first.stop()

    second = Process.worker(tmp_path, env, name="worker-2")
    try:
        view, ledger, _ = await live_hub.settle(order, timeout_s=120)
    finally:
        second.stop()

    assert view.status is OrderStatus.COMPLETED
    effects = Counter(e["effect"] for e in ledger["effects"])
    assert {k: effects[k] for k in ("authorize", "reserve", "label.buy", "capture", "commit")} == dict.fromkeys(
        ("authorize", "reserve", "label.buy", "capture", "commit"), 1
    )
    await live_hub.assert_books_balance(order, view)
