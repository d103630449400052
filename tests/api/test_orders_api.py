"""Backends place and steer orders over HTTP; a signed carrier webhook completes one."""

import re
from typing import Any

import httpx

from domain.status import OrderStatus
from tests.api.conftest import ApiHub, until
from tests.api.webhook_requests import carrier_delivery
from tests.orders import BASE, unique_id

PROBLEM = "application/problem+json"


def order_json(order_id: str | None = None, **changes: Any) -> dict[str, Any]:
    return {**BASE, "order_id": order_id or unique_id("API"), **changes}


async def shipment_id_of(api_hub: ApiHub, order_id: str) -> str:
    async with httpx.AsyncClient(base_url=api_hub.settings.payment.base_url) as sandbox:
        ledger = (await sandbox.get("/_sandbox/ledger", params={"order_id": order_id})).json()
    return next(e["ref"] for e in ledger["effects"] if e["effect"] == "label.buy")


async def test_an_order_placed_over_http_completes_when_the_carrier_signals_delivery(
    api_hub: ApiHub, http: httpx.AsyncClient
) -> None:
    body = order_json()
    created = await http.post("/orders", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/orders/{body['order_id']}"
    assert created.json()["status"] == "pending"

    shipped = await until(http, f"/orders/{body['order_id']}", lambda o: o["payment_status"] == "captured")
    assert shipped["shipments"][0]["tracking_code"]
    assert shipped["finished"] is False
    assert shipped["lines"] == body["lines"]

    secret = api_hub.settings.api.webhooks.carrier.get_secret_value()  # type: ignore[union-attr]
    payload, headers = carrier_delivery(secret, await shipment_id_of(api_hub, body["order_id"]))
    answer = await http.post("/webhooks/carrier", content=payload, headers=headers)
    assert answer.status_code == 202 and answer.json()["outcome"] == "delivered"

    done = await until(http, f"/orders/{body['order_id']}", lambda o: o["status"] == "completed")
    assert done["fulfillment_status"] == "delivered"
    finished = await until(http, f"/orders/{body['order_id']}", lambda o: o["finished"])
    assert finished["status"] == "completed"
    assert any(e["step"] == "tracking" and "delivered" in e["detail"] for e in done["timeline"])


async def test_placing_again_returns_the_order_and_other_content_conflicts(http: httpx.AsyncClient) -> None:
    body = order_json()
    assert (await http.post("/orders", json=body)).status_code == 201
    again = await http.post("/orders", json=body)
    assert again.status_code == 200 and again.json()["order_id"] == body["order_id"]
    conflict = await http.post("/orders", json={**body, "payment_method": "pm_card_mastercard"})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == PROBLEM and conflict.json()["title"] == "Order conflict"


async def test_keys_are_required_and_scoped(api_hub: ApiHub) -> None:
    async with httpx.AsyncClient(base_url=api_hub.url) as anonymous:
        missing = await anonymous.post("/orders", json=order_json())
        wrong = await anonymous.get("/orders/X-1", headers={"Authorization": "Bearer not-a-key"})
        read_only = await anonymous.post("/orders", json=order_json(), headers=api_hub.headers(api_hub.read_key))
        can_read = await anonymous.get("/orders/NO-SUCH-ORDER", headers=api_hub.headers(api_hub.read_key))
    assert (missing.status_code, wrong.status_code, read_only.status_code) == (401, 401, 403)
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert read_only.json()["detail"] == "this key lacks the orders:write scope"
    assert can_read.status_code == 404 and can_read.headers["content-type"] == PROBLEM


async def test_orders_are_listed_by_customer_and_status(http: httpx.AsyncClient) -> None:
    customer = unique_id("C")
    ids = sorted(unique_id("LIST") for _ in range(2))
    for order_id in ids:
        await http.post("/orders", json=order_json(order_id, customer={**BASE["customer"], "id": customer}))

    listed = await until(
        http, f"/orders?customer_id={customer}", lambda page: sorted(o["order_id"] for o in page["items"]) == ids
    )
    assert {o["customer_id"] for o in listed["items"]} == {customer}
    unknown_status = await http.get(f"/orders?customer_id={customer}&status=lost")
    assert unknown_status.status_code == 422


async def test_cancel_is_refused_once_shipped_and_the_address_changes_until_the_carrier_scans(
    http: httpx.AsyncClient,
) -> None:
    body = order_json()
    await http.post("/orders", json=body)
    shipped = await until(http, f"/orders/{body['order_id']}", lambda o: o["payment_status"] == "captured")
    assert shipped["status"] == OrderStatus.CONFIRMED

    refused = await http.post(f"/orders/{body['order_id']}/cancel", json={"reason": "changed my mind"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "order has shipped; start a return instead"
    # Paid and labelled but not yet scanned by the carrier: the unused label is swapped for one to the new address.
    new_address = {**body["shipping_address"], "line1": "10 avenue Foch"}
    moved = await http.post(f"/orders/{body['order_id']}/shipping-address", json={"shipping_address": new_address})
    assert moved.status_code == 200, moved.text
    assert [s["status"] for s in moved.json()["shipments"]] == ["canceled", "label_created"]

    early = order_json(payment_method="pm_card_chargeDeclined")  # ends fast; cancel then finds it ended
    await http.post("/orders", json=early)
    await until(http, f"/orders/{early['order_id']}", lambda o: o["status"] == "canceled")
    too_late = await http.post(f"/orders/{early['order_id']}/cancel")
    assert too_late.status_code == 409
    assert (await http.post("/orders/NOPE-1/cancel")).status_code == 404


async def test_an_operator_retry_is_refused_when_nothing_waits_for_a_person(http: httpx.AsyncClient) -> None:
    """``POST /orders/{id}/retry`` is for an order in ``requires_action`` (issue 14: a refused refund of a parcel that
    never arrived); on any other order it is refused with the reason, and an unknown order is 404."""
    body = order_json()
    await http.post("/orders", json=body)
    await until(http, f"/orders/{body['order_id']}", lambda o: o["payment_status"] == "captured")

    refused = await http.post(f"/orders/{body['order_id']}/retry", json={"note": "checked with the provider"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "nothing in this order is waiting for a person"
    assert (await http.post("/orders/NOPE-1/retry")).status_code == 404


async def test_a_decision_sent_again_with_its_idempotency_key_gets_the_first_answer(http: httpx.AsyncClient) -> None:
    """Issue 14, scenario 11: the reply to an address change is lost and the backend sends it again with the same
    ``Idempotency-Key``: the same 200 answer, one relabel, not a 409 "another address change is being applied"."""
    body = order_json()
    await http.post("/orders", json=body)
    await until(http, f"/orders/{body['order_id']}", lambda o: o["payment_status"] == "captured")
    change = {"shipping_address": {**body["shipping_address"], "line1": "10 avenue Foch"}}
    path, key = f"/orders/{body['order_id']}/shipping-address", {"Idempotency-Key": f"addr-{unique_id()}"}

    first = await http.post(path, json=change, headers=key)
    again = await http.post(path, json=change, headers=key)

    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json()["shipments"] == first.json()["shipments"]
    assert [s["status"] for s in again.json()["shipments"]] == ["canceled", "label_created"]
    other = await http.post(path, json=change, headers={"Idempotency-Key": f"addr-{unique_id()}"})
    assert other.status_code == 200  # another key is another decision: relabelled again
    assert [s["status"] for s in other.json()["shipments"]] == ["canceled", "canceled", "label_created"]


async def test_health_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json() == {"status": "ready"}


async def test_the_api_reference_pages_load_nothing_from_another_host(http: httpx.AsyncClient) -> None:
    for page, asset in (("/docs", "/docs-assets/swagger-ui-bundle.js"), ("/redoc", "/docs-assets/redoc.standalone.js")):
        html = (await http.get(page)).text
        assert asset in html and "/openapi.json" in html
        assert not re.findall(r"(?:src|href)=\"(?:https?:)?//", html), f"{page} loads from another host"
        served = await http.get(asset)
        assert served.status_code == 200 and len(served.content) > 100_000
    assert (await http.get("/docs-assets/swagger-ui.css")).headers["content-type"].startswith("text/css")
