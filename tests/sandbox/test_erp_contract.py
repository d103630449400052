"""The ERP hold contract (docs/erp-holds-api.md) as the sandbox serves it under ``/erp``."""

from typing import Any

import httpx

from connectors.rest_erp import RestErpInventory
from tests.sandbox.conftest import ReadLedger


def hold_body(order_id: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {"order_id": order_id, "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines]}


async def set_stock(http: httpx.AsyncClient, sku: str, on_hand: int, restock_date: str | None = None) -> None:
    response = await http.put(
        "/_sandbox/stock", json={"items": [{"sku": sku, "on_hand": on_hand, "restock_date": restock_date}]}
    )
    assert response.status_code == 200, response.text


async def available(erp: httpx.AsyncClient, *skus: str) -> dict[str, int]:
    response = await erp.get("/v1/availability", params=[("sku", s) for s in skus])
    assert response.status_code == 200, response.text
    return {item["sku"]: item["available"] for item in response.json()["items"]}


async def test_partial_hold_reports_short_lines_with_restock_date(
    erp: httpx.AsyncClient, http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    pen, ink = f"PEN-{order_id}", f"INK-{order_id}"
    await set_stock(http, pen, 10)
    await set_stock(http, ink, 3, "2026-12-10")
    hold_id = f"{order_id}:inventory.hold:1"

    created = await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (pen, 2), (ink, 5)))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "hold_id": hold_id,
        "order_id": order_id,
        "status": "held",
        "lines": [
            {"sku": pen, "requested": 2, "held": 2, "short": 0, "restock_date": None, "location": None},
            {"sku": ink, "requested": 5, "held": 3, "short": 2, "restock_date": "2026-12-10", "location": None},
        ],
    }
    assert await available(erp, pen, ink) == {pen: 8, ink: 0}
    assert (await ledger(order_id))["inventory"] == {"reserved": 5, "released": 0, "committed": 0}


async def test_each_line_says_which_warehouse_holds_it(
    erp: httpx.AsyncClient, http: httpx.AsyncClient, order_id: str
) -> None:
    pen, ink = f"PEN-{order_id}", f"INK-{order_id}"
    for sku, location in ((pen, "LYON"), (ink, "PARIS")):
        stocked = await http.put("/_sandbox/stock", json={"items": [{"sku": sku, "on_hand": 5, "location": location}]})
        assert stocked.status_code == 200, stocked.text
    created = await erp.put(f"/v1/holds/{order_id}:inventory.hold:1", json=hold_body(order_id, (pen, 1), (ink, 2)))

    assert [(line["sku"], line["location"]) for line in created.json()["lines"]] == [(pen, "LYON"), (ink, "PARIS")]
    hold = await RestErpInventory(erp).get_hold(f"{order_id}:inventory.hold:1")  # the adapter keeps it
    assert hold is not None and [line.location for line in hold.lines] == ["LYON", "PARIS"]


async def test_put_is_idempotent_and_mismatch_conflicts(
    erp: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    sku = f"SKU-{order_id}"
    hold_id = f"{order_id}:inventory.hold:1"
    first = await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (sku, 2)))
    again = await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (sku, 2)))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()

    other = await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (sku, 3)))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "hold_mismatch"

    effects = (await ledger(order_id))["effects"]
    assert [(e["effect"], e["units"], e["idempotency_key"]) for e in effects] == [("reserve", 2, hold_id)]


async def test_release_twice_is_a_noop_and_gives_stock_back(
    erp: httpx.AsyncClient, http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    sku = f"SKU-{order_id}"
    await set_stock(http, sku, 5)
    hold_id = f"{order_id}:inventory.hold:1"
    await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (sku, 4)))
    assert await available(erp, sku) == {sku: 1}

    for _ in range(2):
        released = await erp.post(f"/v1/holds/{hold_id}/release")
        assert released.status_code == 200
        assert released.json()["status"] == "released"
    assert await available(erp, sku) == {sku: 5}

    committed = await erp.post(f"/v1/holds/{hold_id}/commit")
    assert (committed.status_code, committed.json()["error"]["code"]) == (409, "hold_released")
    # A released hold PUT again with the same lines is still "the existing hold, whatever its status".
    replay = await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (sku, 4)))
    assert (replay.status_code, replay.json()["status"]) == (200, "released")
    assert (await ledger(order_id))["inventory"] == {"reserved": 4, "released": 4, "committed": 0}


async def test_commit_then_release_conflicts(
    erp: httpx.AsyncClient, http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    sku = f"SKU-{order_id}"
    await set_stock(http, sku, 5)
    hold_id = f"{order_id}:inventory.hold:1"
    await erp.put(f"/v1/holds/{hold_id}", json=hold_body(order_id, (sku, 2)))
    for _ in range(2):
        committed = await erp.post(f"/v1/holds/{hold_id}/commit")
        assert (committed.status_code, committed.json()["status"]) == (200, "committed")
    released = await erp.post(f"/v1/holds/{hold_id}/release")
    assert (released.status_code, released.json()["error"]["code"]) == (409, "hold_committed")
    assert await available(erp, sku) == {sku: 3}  # the committed units left the warehouse
    fetched = await erp.get(f"/v1/holds/{hold_id}")
    assert (fetched.status_code, fetched.json()["status"]) == (200, "committed")
    assert (await ledger(order_id))["inventory"] == {"reserved": 2, "released": 0, "committed": 2}


async def test_unknown_holds_are_404(erp: httpx.AsyncClient, order_id: str) -> None:
    hold_id = f"{order_id}:inventory.hold:9"
    for response in (
        await erp.get(f"/v1/holds/{hold_id}"),
        await erp.post(f"/v1/holds/{hold_id}/release"),
        await erp.post(f"/v1/holds/{hold_id}/commit"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


async def test_malformed_requests_and_auth(erp: httpx.AsyncClient, http: httpx.AsyncClient, order_id: str) -> None:
    hold_id = f"{order_id}:inventory.hold:1"
    for body in (
        {"order_id": order_id, "lines": []},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": 0}]},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": "2"}]},
        {"order_id": order_id, "lines": [{"sku": "x" * 65, "quantity": 1}]},
    ):
        response = await erp.put(f"/v1/holds/{hold_id}", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    assert (await erp.put("/v1/holds/bad%20id", json=hold_body(order_id, ("A", 1)))).status_code == 422
    unauthenticated = await http.get(f"/erp/v1/holds/{hold_id}")
    assert unauthenticated.status_code == 401
