"""The official ``easypost`` client, unmodified, against the sandbox's EasyPost subset."""

import asyncio
import time
from typing import Any

import easypost
import httpx
import pytest

from sandbox.process import SandboxProcess
from tests.eventually import eventually

TO = {"name": "Ada Lovelace", "street1": "1 Main St", "city": "Springfield", "zip": "12345", "country": "US"}
FROM = {"name": "Warehouse", "street1": "9 Dock Rd", "city": "Shelbyville", "zip": "54321", "country": "US"}
PARCEL = {"length": 10, "width": 8, "height": 4, "weight": 32}


@pytest.fixture
def client(sandbox: SandboxProcess) -> easypost.EasyPostClient:
    return easypost.EasyPostClient("EZTK_sandbox", api_base=f"{sandbox.base_url}/v2", timeout=10)


def create(client: easypost.EasyPostClient, reference: str, **extra: Any) -> Any:
    return client.shipment.create(
        to_address=TO, from_address=FROM, parcel=PARCEL, reference=reference, is_return=False, **extra
    )


def ledger_of(sandbox: SandboxProcess, order_id: str) -> dict[str, Any]:
    response = httpx.get(f"{sandbox.base_url}/_sandbox/ledger", params={"order_id": order_id})
    response.raise_for_status()
    view: dict[str, Any] = response.json()
    return view


def test_create_retrieve_buy_refund(client: easypost.EasyPostClient, sandbox: SandboxProcess, order_id: str) -> None:
    reference = f"{order_id}:shipment:1"
    shipment = create(client, reference)
    assert shipment.id.startswith("shp_")
    assert (shipment.object, shipment.reference, shipment.is_return) == ("Shipment", reference, False)
    assert len(shipment.rates) >= 2
    assert all(r.id.startswith("rate_") and isinstance(r.rate, str) for r in shipment.rates)
    assert shipment.postage_label is None

    by_reference = client.shipment.retrieve(reference)
    assert by_reference.id == shipment.id
    assert create(client, reference).id == shipment.id  # a reference names one shipment

    rate = shipment.lowest_rate()
    assert float(rate.rate) == min(float(r.rate) for r in shipment.rates)
    bought = client.shipment.buy(shipment.id, rate=rate)
    assert bought.selected_rate.id == rate.id
    assert bought.postage_label.label_url.endswith(".png")
    assert httpx.get(bought.postage_label.label_url).headers["content-type"] == "image/png"
    assert bought.tracking_code
    assert bought.tracker.id.startswith("trk_")
    assert bought.tracker.tracking_code == bought.tracking_code
    assert bought.tracker.status == "pre_transit"
    assert bought.tracker.public_url

    with pytest.raises(easypost.errors.InvalidRequestError) as exists:
        client.shipment.buy(shipment.id, rate=rate)
    assert (exists.value.http_status, exists.value.code) == (422, "SHIPMENT.POSTAGE.EXISTS")

    refunded = client.shipment.refund(shipment.id)
    assert refunded.refund_status == "submitted"
    assert client.shipment.refund(shipment.id).refund_status == "submitted"  # repeated: still one void

    view = ledger_of(sandbox, order_id)
    assert view["labels"] == {"bought": 1, "voided": 1}
    assert [(e["effect"], e["idempotency_key"], e["ref"]) for e in view["effects"]] == [
        ("label.buy", reference, shipment.id),
        ("label.void", reference, shipment.id),
    ]
    assert view["effects"][0]["amount"] == round(float(rate.rate) * 100)


async def test_tracker_advances_to_delivered(client: easypost.EasyPostClient, order_id: str) -> None:
    shipment = create(client, f"{order_id}:shipment:1")
    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    seen = [bought.tracker.status]

    async def status() -> str:
        """The tracker's status, noted in ``seen`` when it changed."""
        current: str = (await asyncio.to_thread(client.tracker.retrieve, bought.tracker.id)).status
        if current != seen[-1]:
            seen.append(current)
        return current

    # transit-seconds is 1 in the test sandbox: delivered after ~3 s
    await eventually(status, lambda current: current == "delivered", what="the tracker at delivered", timeout_s=6)
    assert seen == ["pre_transit", "in_transit", "out_for_delivery", "delivered"]
    tracker = client.tracker.retrieve(bought.tracker.id)
    assert [d.status for d in tracker.tracking_details] == seen
    assert client.shipment.retrieve(shipment.id).status == "delivered"


def test_forced_status_overrides_auto_advance(
    client: easypost.EasyPostClient, sandbox: SandboxProcess, order_id: str
) -> None:
    reference = f"{order_id}:shipment:1"
    shipment = create(client, reference)
    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    response = httpx.post(f"{sandbox.base_url}/_sandbox/carrier/{reference}/status", json={"status": "failure"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "failure"
    time.sleep(1.2)  # more than one transit step: a forced status does not advance
    assert client.tracker.retrieve(bought.tracker.id).status == "failure"

    invalid = httpx.post(f"{sandbox.base_url}/_sandbox/carrier/{reference}/status", json={"status": "lost"})
    assert invalid.status_code == 422


def test_errors_and_auth(client: easypost.EasyPostClient, sandbox: SandboxProcess, order_id: str) -> None:
    with pytest.raises(easypost.errors.NotFoundError):
        client.shipment.retrieve(f"{order_id}:nope")
    with pytest.raises(easypost.errors.InvalidRequestError) as missing:
        client.shipment.create(to_address=TO, from_address=FROM, reference=f"{order_id}:shipment:1")
    assert missing.value.code == "PARAMETER.REQUIRED"
    anonymous = httpx.post(f"{sandbox.base_url}/v2/shipments", json={"shipment": {}})
    assert anonymous.status_code == 401
    assert set(anonymous.json()["error"]) == {"code", "message", "errors"}
    basic = httpx.get(f"{sandbox.base_url}/v2/shipments/{order_id}", auth=("EZTK_sandbox", ""))
    assert basic.status_code == 404  # authenticated (Basic, key as user name), just not found
