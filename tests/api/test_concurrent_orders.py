"""200 orders posted at once, 50 of them twice: every order completes and each order id runs exactly once.

Deliveries come the way they do in production: the (sandbox) carrier pushes signed tracking webhooks to the API.
"""

import asyncio
from collections import Counter

import httpx
from temporalio.client import Client

from domain.contract import order_workflow_id
from domain.status import OrderStatus
from sandbox.client import SandboxControl
from tests.api.conftest import ApiHub
from tests.api.test_orders_api import order_json
from tests.eventually import eventually
from tests.orders import BASE, unique_id
from workflows.order import OrderWorkflow


async def test_two_hundred_concurrent_posts_with_fifty_duplicates_all_complete_once(
    api_hub: ApiHub, temporal_client: Client, upstreams_push_to_the_api: SandboxControl
) -> None:
    customer = unique_id("BULK")
    orders = [order_json(customer={**BASE["customer"], "id": customer}) for _ in range(150)]
    posts = orders + orders[:50]
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=api_hub.url, headers=api_hub.headers(), timeout=60, limits=limits) as http:
        answers = await asyncio.gather(*(http.post("/orders", json=body) for body in posts))

    unexpected = [(a.status_code, a.text) for a in answers if a.status_code not in (200, 201)]
    assert Counter(a.status_code for a in answers) == {201: 150, 200: 50}, unexpected
    handles = [
        temporal_client.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(o["order_id"])) for o in orders
    ]
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=240)
    assert {r.status for r in results} == {OrderStatus.COMPLETED}

    expected = sorted(order_workflow_id(o["order_id"]) for o in orders)

    async def listed() -> list[str]:
        return sorted([w.id async for w in temporal_client.list_workflows(f'CustomerId = "{customer}"')])

    # Visibility lags writes a little.
    runs = await eventually(listed, lambda runs: len(runs) >= len(expected), what="every order listed", show=len)
    assert runs == expected  # one run per order id, duplicates included
    for body in orders[:50]:  # the duplicated ones were charged once
        ledger = await upstreams_push_to_the_api.ledger(body["order_id"])
        assert [e["effect"] for e in ledger["effects"]].count("authorize") == 1
        assert ledger["payment"]["captured"] == 12900 + 2 * 450
