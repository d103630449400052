"""A duplicate POST of an order no worker has picked up yet (workers down, or busy with a burst of new orders)
answers like any duplicate: 200 with the order as placed, at once. It used to query the run, which cannot answer
before a worker completes its first task: the query waited ~30 s, then Temporal's "Timeout expired" (CANCELLED)
became a 500 — the HTTP 500s tests/api/test_concurrent_orders.py met under load."""

import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from api import problems
from api.auth import Authenticator
from api.orders import orders_router
from hub.client import OrderClient
from hub.runtime.api_keys import hash_key
from hub.runtime.settings import ApiKey
from tests.api.test_orders_api import order_json

KEY = "hub_test_" + secrets.token_urlsafe(8)


@pytest.fixture
async def api_without_workers(temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """The orders routes over a task queue no worker polls: what is placed stays unpicked for the whole test."""
    app = FastAPI()
    problems.install(app)
    orders = OrderClient(temporal_client, task_queue=f"nobody-polls-{uuid.uuid4().hex}")
    keys = [ApiKey(id="backend", sha256=hash_key(KEY), scopes=["orders:read", "orders:write"])]
    app.include_router(orders_router(orders, Authenticator(keys)))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=headers) as http:
        yield http


async def test_a_duplicate_post_before_any_worker_picked_the_order_up_answers_200_with_the_order_as_placed(
    api_without_workers: httpx.AsyncClient,
) -> None:
    body = order_json()
    first = await api_without_workers.post("/orders", json=body)
    assert first.status_code == 201, first.text

    again = await api_without_workers.post("/orders", json=body, timeout=20)

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == f"/orders/{body['order_id']}"
