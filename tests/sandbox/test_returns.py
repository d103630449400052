"""Returns in the sandbox: the ERP's return receipts (``/erp/v1/returns``) and the carrier's return shipments.

Wire-level, over plain HTTP: what an ERP team and EasyPost would answer, what the ledger records and which
webhooks are pushed.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks

from connectors.webhook_signatures import verify_standard
from sandbox.client import SandboxControl
from tests.sandbox.conftest import ReadLedger, SetFaults, unique
from tests.sandbox.receiver import Receiver, Secrets, configure, now

ERP_AUTH = {"Authorization": "Bearer erp-token"}
EASYPOST_AUTH = {"Authorization": "Bearer EZTK_sandbox"}
CUSTOMER = {"name": "Ana", "street1": "3 rue des Lilas", "city": "Paris", "zip": "75011", "country": "FR"}
WAREHOUSE = {"name": "Warehouse", "street1": "1 Depot Road", "city": "Lyon", "zip": "69007", "country": "FR"}
PARCEL = {"length": 10, "width": 8, "height": 4, "weight": 16}


def receipt_body(order_id: str, *lines: tuple[str, int, str]) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "lines": [{"sku": sku, "quantity": qty, "disposition": disposition} for sku, qty, disposition in lines],
    }


async def available(erp: httpx.AsyncClient, *skus: str) -> dict[str, int]:
    response = await erp.get("/v1/availability", params=[("sku", s) for s in skus])
    assert response.status_code == 200, response.text
    return {item["sku"]: item["available"] for item in response.json()["items"]}


# -- ERP return receipts ---------------------------------------------------------------------------------------


async def test_a_receipt_restocks_its_restock_lines_only(
    erp: httpx.AsyncClient, control: SandboxControl, order_id: str, ledger: ReadLedger
) -> None:
    pen, ink = f"PEN-{order_id}", f"INK-{order_id}"
    await control.set_stock(pen, 5)
    await control.set_stock(ink, 5)
    receipt_id = f"{order_id}:rma.R-1.return-receipt:1"
    body = receipt_body(order_id, (pen, 2, "restock"), (ink, 1, "damaged"), (ink, 1, "restock"))

    created = await erp.put(f"/v1/returns/{receipt_id}", json=body)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert {k: v for k, v in receipt.items() if k != "received_at"} == {"receipt_id": receipt_id, **body}
    assert abs(datetime.fromisoformat(receipt["received_at"]) - now()) < timedelta(minutes=1)
    # Two resaleable pens and one ink are back; the damaged ink is not.
    assert await available(erp, pen, ink) == {pen: 7, ink: 6}

    fetched = await erp.get(f"/v1/returns/{receipt_id}")
    assert (fetched.status_code, fetched.json()) == (200, receipt)
    view = await ledger(order_id)
    assert view["returns"] == {"received": 4}
    assert [(e["upstream"], e["effect"], e["units"], e["idempotency_key"], e["ref"]) for e in view["effects"]] == [
        ("erp", "return.receive", 4, receipt_id, receipt_id)
    ]


async def test_a_restocked_return_can_be_held_again(
    erp: httpx.AsyncClient, control: SandboxControl, order_id: str
) -> None:
    sku = f"SKU-{order_id}"
    await control.set_stock(sku, 0)
    put = await erp.put(f"/v1/returns/{order_id}:r:1", json=receipt_body(order_id, (sku, 1, "restock")))
    assert put.status_code == 201
    hold = await erp.put(
        f"/v1/holds/{order_id}:inventory.hold:1", json={"order_id": order_id, "lines": [{"sku": sku, "quantity": 1}]}
    )
    assert hold.json()["lines"][0]["held"] == 1


async def test_a_repeated_receipt_changes_nothing_and_other_lines_conflict(
    erp: httpx.AsyncClient, control: SandboxControl, order_id: str, ledger: ReadLedger
) -> None:
    sku = f"SKU-{order_id}"
    await control.set_stock(sku, 1)
    receipt_id = f"{order_id}:rma.R-2.return-receipt:1"
    first = await erp.put(f"/v1/returns/{receipt_id}", json=receipt_body(order_id, (sku, 2, "restock")))
    again = await erp.put(f"/v1/returns/{receipt_id}", json=receipt_body(order_id, (sku, 2, "restock")))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await available(erp, sku) == {sku: 3}  # restocked once

    for other in (
        receipt_body(order_id, (sku, 1, "restock")),
        receipt_body(order_id, (sku, 2, "damaged")),
        receipt_body(unique(), (sku, 2, "restock")),
        receipt_body(order_id, (sku, 2, "restock"), (f"X-{order_id}", 1, "restock")),
    ):
        conflict = await erp.put(f"/v1/returns/{receipt_id}", json=other)
        assert conflict.status_code == 409, other
        assert conflict.json()["error"]["code"] == "receipt_mismatch"
    assert await available(erp, sku) == {sku: 3}
    assert [e["effect"] for e in (await ledger(order_id))["effects"]] == ["return.receive"]


async def test_same_lines_in_another_order_are_the_same_receipt(erp: httpx.AsyncClient, order_id: str) -> None:
    a, b = f"A-{order_id}", f"B-{order_id}"
    receipt_id = f"{order_id}:r:1"
    first = await erp.put(
        f"/v1/returns/{receipt_id}", json=receipt_body(order_id, (a, 1, "restock"), (b, 2, "damaged"))
    )
    again = await erp.put(
        f"/v1/returns/{receipt_id}", json=receipt_body(order_id, (b, 2, "damaged"), (a, 1, "restock"))
    )
    assert (first.status_code, again.status_code) == (201, 200)


async def test_unknown_receipts_are_404(erp: httpx.AsyncClient, order_id: str) -> None:
    for receipt_id in (f"{order_id}:rma.R-3.return-receipt:1", "no-colon"):
        response = await erp.get(f"/v1/returns/{receipt_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


async def test_malformed_receipts_and_auth(erp: httpx.AsyncClient, http: httpx.AsyncClient, order_id: str) -> None:
    receipt_id = f"{order_id}:r:1"
    for body in (
        {"order_id": order_id, "lines": []},
        {"order_id": "", "lines": [{"sku": "A", "quantity": 1, "disposition": "restock"}]},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": 0, "disposition": "restock"}]},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": "1", "disposition": "restock"}]},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": 1, "disposition": "lost"}]},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": 1}]},
        {"order_id": order_id, "lines": [{"sku": "x" * 65, "quantity": 1, "disposition": "restock"}]},
        {"order_id": order_id, "lines": [{"sku": "A", "quantity": 1, "disposition": "restock"}], "extra": 1},
    ):
        response = await erp.put(f"/v1/returns/{receipt_id}", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    valid = receipt_body(order_id, ("A", 1, "restock"))
    bad_id = await erp.put("/v1/returns/bad%20id", json=valid)
    assert (bad_id.status_code, bad_id.json()["error"]["code"]) == (422, "invalid_request")
    assert (await erp.get("/v1/returns/bad%20id")).status_code == 422
    assert (await http.put(f"/erp/v1/returns/{receipt_id}", json=valid)).status_code == 401
    assert (await http.get(f"/erp/v1/returns/{receipt_id}")).status_code == 401
    assert (await erp.get(f"/v1/returns/{receipt_id}")).status_code == 404  # nothing was recorded


async def test_return_put_faults_reject_and_hang_after_apply(
    erp: httpx.AsyncClient, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    sku = f"SKU-{order_id}"
    rejected_id, hung_id = f"{order_id}:r:1", f"{order_id}:r:2"
    await set_faults(
        {"upstream": "erp", "operation": "return.put", "order_prefix": order_id, "reject": {"code": "closed_period"}}
    )
    rejected = await erp.put(f"/v1/returns/{rejected_id}", json=receipt_body(order_id, (sku, 1, "restock")))
    assert (rejected.status_code, rejected.json()["error"]["code"]) == (409, "closed_period")
    assert (await erp.get(f"/v1/returns/{rejected_id}")).status_code == 404

    await set_faults(
        {"upstream": "erp", "operation": "return.put", "order_prefix": order_id, "timeout_after_apply_rate": 1.0}
    )
    with pytest.raises(httpx.ReadTimeout):
        await erp.put(
            f"/v1/returns/{hung_id}", json=receipt_body(order_id, (sku, 1, "restock")), timeout=httpx.Timeout(0.5)
        )
    # Applied before the hang: the receipt is there, and a repeat (also hung) is not a second receipt.
    assert (await erp.get(f"/v1/returns/{hung_id}")).status_code == 200
    repeat = await erp.put(f"/v1/returns/{hung_id}", json=receipt_body(order_id, (sku, 1, "restock")))
    assert repeat.status_code == 200
    assert [e["idempotency_key"] for e in (await ledger(order_id))["effects"]] == [hung_id]


async def test_receipt_reads_are_faulted_as_reads(erp: httpx.AsyncClient, set_faults: SetFaults, order_id: str) -> None:
    await set_faults({"upstream": "erp", "operation": "read", "order_prefix": order_id, "error_rate": 1.0})
    response = await erp.get(f"/v1/returns/{order_id}:r:9")  # unknown, but it names its order
    assert response.status_code in (500, 502, 503, 429)
    # Mutations are not reads: the PUT goes through.
    put = await erp.put(f"/v1/returns/{order_id}:r:9", json=receipt_body(order_id, ("A", 1, "damaged")))
    assert put.status_code == 201


async def test_a_new_receipt_pushes_return_received_once(
    erp: httpx.AsyncClient, control: SandboxControl, receiver: Receiver, order_id: str
) -> None:
    keys = Secrets()
    await configure(control, receiver, keys, "erp")
    receipt_id = f"{order_id}:rma.R-4.return-receipt:1"
    body = receipt_body(order_id, (f"P-{order_id}", 2, "restock"), (f"Q-{order_id}", 1, "damaged"))
    assert (await erp.put(f"/v1/returns/{receipt_id}", json=body)).status_code == 201
    assert (await erp.put(f"/v1/returns/{receipt_id}", json=body)).status_code == 200

    [pushed] = await receiver.wait_for(
        "/erp", lambda e: e["type"] == "return.received" and e["data"]["receipt_id"] == receipt_id
    )
    payload = pushed.json()
    assert payload["data"] == {"order_id": order_id, "receipt_id": receipt_id, "lines": body["lines"]}
    assert abs(datetime.fromisoformat(payload["timestamp"]) - now()) < timedelta(minutes=1)
    assert verify_standard(keys.erp, pushed.headers, pushed.body, now()).startswith("evt_")
    assert standardwebhooks.Webhook(keys.erp).verify(pushed.body, pushed.headers) == payload
    # The repeated PUT recorded nothing new, so nothing more is pushed.
    await asyncio.sleep(0.3)
    assert len(receiver.matching("/erp", lambda e: e["data"].get("receipt_id") == receipt_id)) == 1


# -- carrier return shipments ----------------------------------------------------------------------------------


async def create_shipment(http: httpx.AsyncClient, reference: str, *, is_return: bool) -> dict[str, Any]:
    shipment = {
        "reference": reference,
        "to_address": CUSTOMER,
        "from_address": WAREHOUSE,
        "parcel": PARCEL,
        "is_return": is_return,
    }
    created = await http.post("/v2/shipments", json={"shipment": shipment}, headers=EASYPOST_AUTH)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


async def buy(http: httpx.AsyncClient, shipment: dict[str, Any]) -> dict[str, Any]:
    bought = await http.post(
        f"/v2/shipments/{shipment['id']}/buy", json={"rate": {"id": shipment["rates"][0]["id"]}}, headers=EASYPOST_AUTH
    )
    assert bought.status_code == 200, bought.text
    result: dict[str, Any] = bought.json()
    return result


async def test_a_return_shipment_swaps_the_outbound_addresses_as_easypost_does(
    http: httpx.AsyncClient, order_id: str
) -> None:
    outbound = await create_shipment(http, f"{order_id}:shipment:1", is_return=False)
    back = await create_shipment(http, f"{order_id}:rma.R-1.return-label:1", is_return=True)
    assert outbound["is_return"] is False
    assert outbound["to_address"]["street1"] == CUSTOMER["street1"]
    assert outbound["from_address"]["street1"] == WAREHOUSE["street1"]
    assert back["is_return"] is True
    assert back["to_address"]["street1"] == WAREHOUSE["street1"]
    assert back["from_address"]["street1"] == CUSTOMER["street1"]
    # Looked up by our reference like any shipment, and a retried create is the same shipment.
    fetched = await http.get(f"/v2/shipments/{order_id}:rma.R-1.return-label:1", headers=EASYPOST_AUTH)
    assert (fetched.status_code, fetched.json()["id"]) == (200, back["id"])
    again = await create_shipment(http, f"{order_id}:rma.R-1.return-label:1", is_return=True)
    assert again["id"] == back["id"]


async def test_return_labels_have_their_own_ledger_effects(
    http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    outbound = await buy(http, await create_shipment(http, f"{order_id}:shipment:1", is_return=False))
    used = await buy(http, await create_shipment(http, f"{order_id}:rma.R-1.return-label:1", is_return=True))
    unused = await buy(http, await create_shipment(http, f"{order_id}:rma.R-2.return-label:1", is_return=True))
    assert used["postage_label"] and unused["postage_label"] and outbound["postage_label"]
    # The unused return label is voided (the RMA expired): a second refund changes nothing.
    for _ in range(2):
        voided = await http.post(f"/v2/shipments/{order_id}:rma.R-2.return-label:1/refund", headers=EASYPOST_AUTH)
        assert (voided.status_code, voided.json()["refund_status"]) == (200, "submitted")

    view = await ledger(order_id)
    assert view["labels"] == {"bought": 1, "voided": 0}
    assert view["return_labels"] == {"bought": 2, "voided": 1}
    effects = [(e["effect"], e["idempotency_key"], e["ref"]) for e in view["effects"]]
    assert effects == [
        ("label.buy", f"{order_id}:shipment:1", outbound["id"]),
        ("return_label.buy", f"{order_id}:rma.R-1.return-label:1", used["id"]),
        ("return_label.buy", f"{order_id}:rma.R-2.return-label:1", unused["id"]),
        ("return_label.void", f"{order_id}:rma.R-2.return-label:1", unused["id"]),
    ]
    assert next(e for e in view["effects"] if e["effect"] == "return_label.buy")["amount"] == round(
        float(used["selected_rate"]["rate"]) * 100
    )


async def test_a_return_parcel_is_tracked_and_pushed_like_an_outbound_one(
    http: httpx.AsyncClient, control: SandboxControl, receiver: Receiver, order_id: str
) -> None:
    keys = Secrets()
    await configure(control, receiver, keys, "carrier")
    reference = f"{order_id}:rma.R-5.return-label:1"
    shipment = await buy(http, await create_shipment(http, reference, is_return=True))

    # The customer drops the parcel off, and it reaches the warehouse: forced by our reference.
    assert (await control.set_carrier_status(reference, "in_transit"))["status"] == "in_transit"
    assert (await control.set_carrier_status(reference, "delivered"))["status"] == "delivered"

    fetched = (await http.get(f"/v2/shipments/{reference}", headers=EASYPOST_AUTH)).json()
    assert (fetched["status"], fetched["tracker"]["status"]) == ("delivered", "delivered")
    tracker = await http.get(f"/v2/trackers/{shipment['tracker']['id']}", headers=EASYPOST_AUTH)
    assert [d["status"] for d in tracker.json()["tracking_details"]][-2:] == ["in_transit", "delivered"]
    pushed = await receiver.wait_for("/carrier", lambda e: e["result"]["shipment_id"] == shipment["id"], count=2)
    assert [r.json()["result"]["status"] for r in pushed] == ["in_transit", "delivered"]
