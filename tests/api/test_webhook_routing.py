"""Where verified ERP events go: stock news to every order waiting for the SKU, return receipts to their RMA."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.webhook_signatures import sign_standard
from sandbox.client import SandboxControl
from tests.api.conftest import ApiHub, until
from tests.eventually import eventually
from tests.orders import BASE, unique_id


def erp_event(api_hub: ApiHub, kind: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    secret = api_hub.settings.api.webhooks.erp.get_secret_value()  # type: ignore[union-attr]
    at = datetime.now(UTC)
    body = json.dumps({"type": kind, "timestamp": at.isoformat(), "data": data}).encode()
    return body, {"Content-Type": "application/json", **sign_standard(secret, f"msg_{uuid.uuid4().hex}", at, body)}


async def test_stock_news_wakes_every_order_waiting_for_that_sku_and_only_those(
    http: httpx.AsyncClient, api_hub: ApiHub, control: SandboxControl
) -> None:
    sku = unique_id("SKU")
    await control.set_stock(sku, 0)
    order = {
        **BASE,
        "order_id": unique_id("BO"),
        "lines": [
            {"sku": sku, "quantity": 1, "unit_price": 1000},
            {"sku": "PEN-01", "quantity": 1, "unit_price": 12900},
        ],
    }
    assert (await http.post("/orders", json=order)).status_code == 201
    try:
        waiting = await until(http, f"/orders/{order['order_id']}", lambda o: o["status"] == "requires_action")
        assert waiting["backorder"]["lines"][0]["sku"] == sku

        # Visibility indexes the order's BackorderedSkus a moment after the workflow sets it: send fresh events
        # until it is found (each is a new delivery, as the ERP would send on each change).
        async def send_stock_news() -> httpx.Response:
            body, headers = erp_event(api_hub, "stock.changed", {"sku": sku, "available": 5})
            answer = await http.post("/webhooks/erp", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            if answer.json()["orders_woken"] != 1:
                assert answer.json() == {
                    "event_id": answer.json()["event_id"],
                    "outcome": "not_routed",
                    "orders_woken": 0,
                }
            return answer

        answer = await eventually(
            send_stock_news,
            lambda answer: answer.json()["orders_woken"] == 1,
            what="the waiting order found by its SKU",
            show=lambda answer: answer.text,
        )
        assert answer.json()["outcome"] == "delivered"
        woken = await until(
            http,
            f"/orders/{order['order_id']}",
            lambda o: any(f"{sku} back in stock" in (e["detail"] or "") for e in o["timeline"]),
        )
        assert woken["order_id"] == order["order_id"]

        body, headers = erp_event(api_hub, "stock.changed", {"sku": unique_id("NOBODY"), "available": 5})
        nobody = (await http.post("/webhooks/erp", content=body, headers=headers)).json()
        assert (nobody["outcome"], nobody["orders_woken"]) == ("not_routed", 0)
    finally:
        await http.post(f"/orders/{order['order_id']}/cancel")


async def test_a_return_receipt_goes_to_the_rma_its_receipt_id_names(http: httpx.AsyncClient, api_hub: ApiHub) -> None:
    lines = [{"sku": "PEN-01", "quantity": 1, "disposition": "restock"}]
    unknown = {"order_id": "A-9", "receipt_id": f"A-9:rma.{unique_id('RMA')}.receipt:1", "lines": lines}
    body, headers = erp_event(api_hub, "return.received", unknown)
    answer = await http.post("/webhooks/erp", content=body, headers=headers)
    assert (answer.status_code, answer.json()["outcome"]) == (202, "order_ended")  # no such RMA (any more)

    walk_in = {"order_id": "A-9", "receipt_id": "A-9:walk-in:1", "lines": lines}
    body, headers = erp_event(api_hub, "return.received", walk_in)
    answer = await http.post("/webhooks/erp", content=body, headers=headers)
    assert (answer.status_code, answer.json()["outcome"]) == (202, "ignored")

    body, headers = erp_event(api_hub, "return.received", {**walk_in, "receipt_id": "B-1:rma.R-1.receipt:1"})
    refused = await http.post("/webhooks/erp", content=body, headers=headers)
    assert (refused.status_code, refused.json()["detail"]) == (422, "data.receipt_id belongs to another order")
