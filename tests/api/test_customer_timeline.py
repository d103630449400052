"""Story 5: whoever serves a customer sees their whole history in one place. A customer with two orders, a
return and an action taken in a store: ``GET /customers/{id}/timeline`` and ``hub customer timeline`` list all
of them, newest first, with every message sent (channel, time, subject)."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from domain.order_view import AddressChange
from domain.returns import ReturnPolicy, ReturnRequest
from domain.status import OrderStatus
from hub.client import OrderClient
from tests.api.conftest import ApiHub
from tests.api.test_cli import hub, succeeded
from tests.orders import BASE, make_order, policy, unique_id


@pytest.fixture
async def http(api_hub: ApiHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_hub.url, headers=api_hub.headers(), timeout=30) as client:
        yield client


async def _timeline(http: httpx.AsyncClient, customer_id: str, ready: Any) -> dict[str, Any]:
    for _ in range(150):  # visibility lags writes a little
        body: dict[str, Any] = (await http.get(f"/customers/{customer_id}/timeline")).json()
        if ready(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(body)


async def test_two_orders_a_return_and_a_store_action_are_all_on_the_timeline_newest_first(
    api_hub: ApiHub, temporal_client: Client, http: httpx.AsyncClient
) -> None:
    customer = {**BASE["customer"], "id": unique_id("CUST")}
    orders = OrderClient(  # the API's worker, with a return window so the first order can take a return
        temporal_client,
        task_queue=api_hub.settings.temporal.task_queue,
        policy=policy(
            tracking_poll_interval=timedelta(milliseconds=300), returns=ReturnPolicy(window=timedelta(hours=1))
        ),
    )
    first, second = make_order(customer=customer), make_order(customer=customer)
    placed = [await orders.place(first)]
    for _ in range(100):
        if (await orders.view(first.order_id)).status is OrderStatus.COMPLETED:
            break
        await asyncio.sleep(0.1)
    rma = unique_id("RMA")
    await orders.open_return(
        first.order_id, ReturnRequest.model_validate({"rma_id": rma, "lines": [{"sku": "INK-07", "quantity": 1}]})
    )
    placed.append(await orders.place(second))
    moved = AddressChange.model_validate(
        {"shipping_address": {**BASE["shipping_address"], "line1": "1 place Bellecour"}, "requested_via": "store"}
    )
    await orders.change_shipping_address(second.order_id, moved)
    try:
        timeline = await _timeline(
            http, customer["id"], lambda t: len(t["orders"]) == 2 and t["returns"] == [rma] and len(t["items"]) > 5
        )

        assert sorted(timeline["orders"]) == sorted([first.order_id, second.order_id])
        items = timeline["items"]
        assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)  # newest first
        placements = [i for i in items if i["kind"] == "order"]
        assert [i["order_id"] for i in placements] == [second.order_id, first.order_id]
        opened = next(i for i in items if i["kind"] == "return")
        assert (opened["order_id"], opened["rma_id"], opened["channel"]) == (first.order_id, rma, "web")
        store = next(i for i in items if i["kind"] == "action" and i["channel"] == "store")
        assert store["order_id"] == second.order_id and "shipping address" in store["summary"]
        # The second order was placed after the return was opened, and the store action came after both.
        assert items.index(store) < items.index(placements[0]) < items.index(opened) < items.index(placements[1])
        confirmed = next(i for i in items if i["kind"] == "message" and i["order_id"] == first.order_id)
        assert confirmed["channel"] == "email" and confirmed["summary"]

        shown = succeeded(await hub(api_hub, "customer", "timeline", customer["id"], "--json"))
        assert json.loads(shown.stdout)["orders"] == timeline["orders"]
        table = succeeded(await hub(api_hub, "customer", "timeline", customer["id"]))
        assert rma in table.stdout and "store" in table.stdout
    finally:
        for placement in placed:
            await placement.handle.terminate("test over: the order would stay open through its return window")


async def test_an_unknown_customer_has_an_empty_timeline_and_bad_ids_are_refused(http: httpx.AsyncClient) -> None:
    empty = await http.get(f"/customers/{unique_id('NOBODY')}/timeline")
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert (await http.get("/customers/has%20space/timeline")).status_code == 422
