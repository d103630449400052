"""The worker's Prometheus endpoint: the SDK's metrics and the hub's counters, scraped after a known set of orders.

The worker gets a Temporal runtime of its own (``bootstrap.connect_worker_client``, as ``python worker.py`` builds
it), so the counters start at zero here and no other test's client is touched.
"""

import asyncio
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.client import Client

from domain.contract import ORDER_WORKFLOW
from domain.status import OrderStatus
from hub.client import OrderClient
from hub.runtime.bootstrap import connect_worker_client, running_worker
from hub.runtime.settings import MetricsSettings
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess, free_port
from tests.integration.conftest import POLICY, LiveHub, hub_settings
from tests.orders import make_order

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(exposition: str) -> Samples:
    """Prometheus text format → {metric name: [(labels, value)]}."""
    samples: Samples = defaultdict(list)
    for line in exposition.splitlines():
        if match := _SAMPLE.match(line):
            labels = dict(_LABEL.findall(match["labels"] or ""))
            samples[match["name"]].append((labels, float(match["value"])))
    return samples


def by(samples: Samples, name: str, label: str, **where: str) -> dict[str, float]:
    """The values of ``name`` summed by ``label``, over the series whose labels include ``where``."""
    totals: dict[str, float] = defaultdict(float)
    for labels, value in samples.get(name, []):
        if where.items() <= labels.items():
            totals[labels[label]] += value
    return dict(totals)


@dataclass
class MeteredHub(LiveHub):
    metrics_url: str
    task_queue: str

    async def scrape(self) -> Samples:
        async with httpx.AsyncClient() as http:
            response = await http.get(self.metrics_url)
            response.raise_for_status()
            return parse(response.text)


@pytest.fixture
async def metered_hub(
    temporal_client: Client, sandbox: SandboxProcess, control: SandboxControl
) -> AsyncIterator[MeteredHub]:
    task_queue = f"orders-{uuid.uuid4().hex}"
    port = free_port()
    settings = hub_settings(
        sandbox, temporal_address=temporal_client.service_client.config.target_host, task_queue=task_queue
    ).model_copy(update={"metrics": MetricsSettings(bind_address=f"127.0.0.1:{port}")})
    client = await connect_worker_client(settings)
    async with running_worker(client, settings, task_queue):
        yield MeteredHub(
            OrderClient(client, task_queue=task_queue, policy=POLICY),
            control,
            metrics_url=f"http://127.0.0.1:{port}/metrics",
            task_queue=task_queue,
        )


async def test_order_outcomes_compensations_and_connector_errors_are_counted(metered_hub: MeteredHub) -> None:
    hub = metered_hub
    completed = [make_order() for _ in range(3)]
    declined = make_order(payment_method="pm_card_chargeDeclined")
    label_rejected = make_order()
    await hub.control.set_faults(
        [
            # One lost answer on the first completed order's authorization: retried, then it completes.
            {
                "upstream": "payment",
                "operation": "authorize",
                "order_prefix": completed[0].order_id,
                "error_rate": 1.0,
                "faults_per_request": 1,
            },
            {
                "upstream": "carrier",
                "operation": "shipment.buy",
                "order_prefix": label_rejected.order_id,
                "reject": {"code": "SHIPMENT.POSTAGE.FAILURE", "message": "no"},
            },
        ]
    )
    orders = [*completed, declined, label_rejected]
    await asyncio.gather(*(hub.orders.place(order) for order in orders))
    views = [(await hub.settle(order, timeout_s=120))[0] for order in orders]
    assert [view.status for view in views] == [OrderStatus.COMPLETED] * 3 + [OrderStatus.CANCELED] * 2

    samples = await hub.scrape()
    ours = {"task_queue": hub.task_queue}
    assert by(samples, "hub_orders_finished", "outcome", **ours) == {"completed": 3, "canceled": 2}
    # The declined authorization left nothing to undo; the rejected label left a hold and an authorization.
    assert by(samples, "hub_compensations", "step", **ours) == {"stock_released": 1, "payment_voided": 1}
    rejections = by(samples, "hub_connector_errors", "upstream", error_class="BusinessRejection", **ours)
    assert rejections == {"payment": 1, "carrier": 1}
    payment_errors = by(samples, "hub_connector_errors", "error_class", upstream="payment", **ours)
    assert payment_errors.keys() - {"BusinessRejection"} <= {"IndeterminateError", "RateLimitedError"}
    assert sum(payment_errors.values()) - payment_errors["BusinessRejection"] == 1
    # The SDK's own metrics share the endpoint.
    assert by(samples, "temporal_workflow_completed", "workflow_type", **ours)[ORDER_WORKFLOW] == 5
