"""A worker process stopped with SIGTERM mid-activity (a deploy): the activity finishes and its result is recorded
before the process exits; nothing is cancelled and retried elsewhere."""

import asyncio
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from hub.client import OrderClient
from hub.dev.processes import Process
from hub.dev.stack import sandbox_settings
from hub.runtime.settings import to_env
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from tests.eventually import eventually
from tests.integration.conftest import POLICY
from tests.orders import make_order

LATENCY_MS = 3000
"""How long the payment provider takes to authorize: the worker is stopped while it waits for the answer."""


async def test_a_worker_stopped_with_sigterm_lets_its_running_activity_finish_and_record_its_result(
    temporal_env: WorkflowEnvironment, sandbox: SandboxProcess, control: SandboxControl, tmp_path: Path
) -> None:
    """Issue 14, "Also": the worker was built without ``graceful_shutdown_timeout``, so a SIGTERM during a deploy
    cancelled the activities it was running instead of letting them finish."""
    order = make_order()
    await control.set_faults(
        [{"upstream": "payment", "operation": "authorize", "order_prefix": order.order_id, "latency_ms": LATENCY_MS}]
    )
    task_queue = f"shutdown-{uuid.uuid4().hex}"
    settings = sandbox_settings(
        sandbox,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=task_queue,
        timeout_s=LATENCY_MS / 1000 * 3,
    )
    orders = OrderClient(temporal_env.client, task_queue=task_queue, policy=POLICY)
    worker = Process.worker(tmp_path, to_env(settings))
    placed = None
    try:
        placed = await orders.place(order)
        await eventually(
            control.fault_stats,
            lambda stats: stats["delayed"] >= 1,
            what=f"the authorization of {order.order_id} in flight at the payment provider",
            timeout_s=60,
        )
        worker.popen.terminate()  # SIGTERM, as docker stop and Kubernetes send it
        exit_code = await asyncio.to_thread(worker.popen.wait, 60)
        assert exit_code == 0, worker.tail()

        events = (await placed.handle.fetch_history()).events
        activity_types = {
            event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
            for event in events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        completed = [
            activity_types[event.activity_task_completed_event_attributes.scheduled_event_id]
            for event in events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        ]
        assert completed == ["authorize_payment"], worker.tail()
        [started] = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        assert started.activity_task_started_event_attributes.attempt == 1  # finished by the stopping worker
        ledger = await control.ledger(order.order_id)
        assert [e["effect"] for e in ledger["effects"]] == ["authorize"]
    finally:
        worker.stop()
        if placed is not None:
            await placed.handle.terminate("test over: no worker left on its task queue")
