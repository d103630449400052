"""Story 5: whoever serves a customer sees their whole history in one place. A customer with two orders, a
return and an action taken in a store: ``GET /customers/{id}/timeline`` and ``hub customer timeline`` list all
of them, newest first, with every message sent (channel, time, subject)."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client

from domain.order_view import AddressChange
from domain.returns import ReturnPolicy, ReturnRequest
from domain.status import OrderStatus
from hub.client import OrderClient
from tests.api.conftest import ApiHub
from tests.api.test_cli import hub, succeeded
from tests.eventually import eventually
from tests.orders import BASE, make_order, policy, unique_id, view_when


async def _timeline(
    http: httpx.AsyncClient, customer_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        body: dict[str, Any] = (await http.get(f"/customers/{customer_id}/timeline")).json()
        return body

    # Visibility lags writes a little.
    return await eventually(read, ready, what=f"{customer_id}'s timeline complete", timeout_s=45)


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
    await view_when(orders, first.order_id, lambda view: view.status is OrderStatus.COMPLETED, what="delivered")
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
