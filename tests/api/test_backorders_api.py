"""Story 4 over HTTP, with the sandbox's ledger as the judge: a short order is told at once with its restock date
and choices, the customer's answer comes through the API, and the ERP's own ``stock.changed`` webhook wakes the
order for its second parcel. Each parcel is captured for exactly what it carries."""

from typing import Any

import httpx

from domain.order import Order
from domain.order_view import OrderView
from hub.dev.invariants import violations
from sandbox.client import SandboxControl
from tests.api.conftest import until
from tests.api.test_orders_api import PROBLEM, order_json
from tests.eventually import eventually
from tests.orders import unique_id

SOFA_PRICE = 45000


def _captured_parcels(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in body["shipments"] if s["captured"]]


async def test_a_short_order_ships_what_is_there_and_the_rest_when_the_erp_restocks(
    http: httpx.AsyncClient, upstreams_push_to_the_api: SandboxControl
) -> None:
    control = upstreams_push_to_the_api
    sofa = unique_id("SOFA")
    await control.set_stock(sofa, 1, restock_date="2026-12-10")
    body = order_json(
        lines=[
            {"sku": "PEN-01", "quantity": 1, "unit_price": 12900},
            {"sku": sofa, "quantity": 3, "unit_price": SOFA_PRICE},
        ]
    )
    order_id = body["order_id"]
    assert (await http.post("/orders", json=body)).status_code == 201

    asked = await until(http, f"/orders/{order_id}", lambda o: o["status"] == "requires_action")
    assert asked["backorder"]["lines"] == [{"sku": sofa, "missing": 2, "restock_date": "2026-12-10"}]
    told = await until_mail(control, order_id, "order-backordered")
    assert sofa in told["body"] and "10 décembre 2026" in told["body"]  # fr-FR: the date as French writes it

    bad = await http.post(f"/orders/{order_id}/backorder-decision", json={"choice": "ship_whenever"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    decided = await http.post(f"/orders/{order_id}/backorder-decision", json={"choice": "ship_available"})
    assert decided.status_code == 200, decided.text
    again = await http.post(f"/orders/{order_id}/backorder-decision", json={"choice": "ship_available"})
    assert again.status_code == 409 and "already decided" in again.json()["detail"]

    first = await until(http, f"/orders/{order_id}", lambda o: len(_captured_parcels(o)) == 1)
    assert _captured_parcels(first)[0]["value"] == 12900 + SOFA_PRICE
    await control.set_stock(sofa, 10)  # the ERP pushes stock.changed; the API finds the order waiting for it
    done = await until(http, f"/orders/{order_id}", lambda o: o["status"] == "completed", timeout_s=90)

    assert [s["value"] for s in _captured_parcels(done)] == [12900 + SOFA_PRICE, 2 * SOFA_PRICE]
    ledger = await control.ledger(order_id)
    effects = [e["effect"] for e in ledger["effects"]]
    assert effects.count("authorize") == 2 and effects.count("capture") == 2
    assert ledger["payment"]["captured"] == 12900 + 3 * SOFA_PRICE
    # The first authorization covered everything; capturing the first parcel released the rest of it.
    assert ledger["payment"]["voided"] == 2 * SOFA_PRICE
    view = OrderView.model_validate(done)
    assert violations(Order.model_validate(body), view, ledger) == []


async def test_a_decision_on_an_order_that_waits_for_nothing_is_refused(http: httpx.AsyncClient) -> None:
    body = order_json()
    assert (await http.post("/orders", json=body)).status_code == 201
    refused = await http.post(f"/orders/{body['order_id']}/backorder-decision", json={"choice": "wait_for_all"})
    assert refused.status_code == 409, refused.text
    assert "waiting for stock" in refused.json()["detail"] or "ended" in refused.json()["detail"]
    unknown = await http.post(f"/orders/{unique_id('NOPE')}/backorder-decision", json={"choice": "wait_for_all"})
    assert unknown.status_code == 404


async def until_mail(control: SandboxControl, order_id: str, kind: str) -> dict[str, Any]:
    mail = await eventually(
        lambda: control.mail(order_id),
        lambda mail: any(f".{kind}." in m["message_id"] for m in mail),
        what=f"a {kind} message for {order_id}",
        show=lambda mail: [m["message_id"] for m in mail],
    )
    return next(m for m in mail if f".{kind}." in m["message_id"])
