"""The production adapters for returns against the real sandbox process: ``RestErpInventory.receive_return`` and
``EasyPostCarrier.buy_label`` for a return label, including answers lost after the upstream applied the change.

The clients are built as ``hub/runtime/upstreams.py`` builds them (base URL, bearer key, a timeout shorter than the
sandbox's 2 s hold on "timeout after apply" answers, so those really time out here).
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.easypost_carrier import EasyPostCarrier
from connectors.errors import BusinessRejection, IndeterminateError
from connectors.rest_erp import RestErpInventory
from domain.inventory import ReturnedStock
from domain.order import Address
from domain.returns import Disposition
from domain.shipping import LabelRequest, TrackingStatus
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from tests.sandbox.conftest import ReadLedger, SetFaults

UPSTREAM_TIMEOUT_S = 1.0
CUSTOMER = Address(line1="3 rue des Lilas", city="Paris", postal_code="75011", country="FR")
WAREHOUSE = Address(line1="1 Depot Road", city="Lyon", postal_code="69007", country="FR")


def _http(base_url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=httpx.Timeout(UPSTREAM_TIMEOUT_S)
    )


@pytest.fixture
async def inventory(sandbox: SandboxProcess) -> AsyncIterator[RestErpInventory]:
    async with _http(f"{sandbox.base_url}/erp", "erp-token") as client:
        yield RestErpInventory(client)


@pytest.fixture
async def carrier(sandbox: SandboxProcess) -> AsyncIterator[EasyPostCarrier]:
    async with _http(f"{sandbox.base_url}/v2", "EZTK_sandbox") as client:
        yield EasyPostCarrier(client, ship_from=WAREHOUSE, ship_from_name="Order Hub Warehouse")


async def available(http: httpx.AsyncClient, sku: str) -> int:
    response = await http.get("/erp/v1/availability", params={"sku": sku}, headers={"Authorization": "Bearer t"})
    response.raise_for_status()
    count: int = response.json()["items"][0]["available"]
    return count


def return_label(order_id: str, rma: str = "R-1") -> LabelRequest:
    return LabelRequest(
        reference=f"{order_id}:rma.{rma}.return-label:1",
        order_id=order_id,
        to_address=CUSTOMER,
        to_name="Ana",
        is_return=True,
    )


# -- ERP -------------------------------------------------------------------------------------------------------


async def test_receive_return_restocks_once_even_when_the_answer_is_lost(
    inventory: RestErpInventory,
    control: SandboxControl,
    http: httpx.AsyncClient,
    set_faults: SetFaults,
    order_id: str,
    ledger: ReadLedger,
) -> None:
    pen, ink = f"PEN-{order_id}", f"INK-{order_id}"
    await control.set_stock(pen, 10)
    await control.set_stock(ink, 10)
    receipt_id = f"{order_id}:rma.R-1.return-receipt:1"
    lines = [
        ReturnedStock(sku=pen, quantity=2, disposition=Disposition.RESTOCK),
        ReturnedStock(sku=ink, quantity=1, disposition=Disposition.DAMAGED),
    ]
    # The ERP applies the receipt, then holds its answer past our timeout: only a lookup can tell.
    await set_faults(
        {
            "upstream": "erp",
            "operation": "return.put",
            "order_prefix": order_id,
            "timeout_after_apply_rate": 1.0,
            "faults_per_request": 1,
        }
    )

    record = await inventory.receive_return(receipt_id=receipt_id, order_id=order_id, lines=lines)
    assert (record.receipt_id, record.order_id) == (receipt_id, order_id)
    assert sorted(record.lines, key=lambda line: line.sku) == sorted(lines, key=lambda line: line.sku)
    stats = (await http.get("/_sandbox/faults/stats")).json()
    assert stats["timeout_after_apply"] == 1  # the answer really was lost

    # Temporal may still run the activity again: the same receipt comes back, nothing is received twice.
    again = await inventory.receive_return(receipt_id=receipt_id, order_id=order_id, lines=list(reversed(lines)))
    assert again == record
    assert await inventory.get_return(receipt_id) == record
    effects = [(e["effect"], e["units"], e["idempotency_key"]) for e in (await ledger(order_id))["effects"]]
    assert effects == [("return.receive", 3, receipt_id)]
    assert (await available(http, pen), await available(http, ink)) == (12, 10)

    with pytest.raises(BusinessRejection) as mismatch:
        await inventory.receive_return(receipt_id=receipt_id, order_id=order_id, lines=lines[:1])
    assert mismatch.value.code == "receipt_mismatch"


async def test_a_lost_receipt_whose_lookup_fails_too_is_left_to_temporal_and_still_received_once(
    inventory: RestErpInventory, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    receipt_id = f"{order_id}:rma.R-2.return-receipt:1"
    lines = [ReturnedStock(sku=f"SKU-{order_id}", quantity=1, disposition=Disposition.RESTOCK)]
    await set_faults(
        {"upstream": "erp", "operation": "return.put", "order_prefix": order_id, "timeout_after_apply_rate": 1.0},
        {"upstream": "erp", "operation": "read", "order_prefix": order_id, "error_rate": 1.0},
    )
    with pytest.raises(IndeterminateError):
        await inventory.receive_return(receipt_id=receipt_id, order_id=order_id, lines=lines)
    await set_faults()  # the ERP recovers; Temporal's retry re-sends the same receipt
    record = await inventory.receive_return(receipt_id=receipt_id, order_id=order_id, lines=lines)
    assert record.receipt_id == receipt_id
    assert [e["effect"] for e in (await ledger(order_id))["effects"]] == ["return.receive"]


# -- carrier ---------------------------------------------------------------------------------------------------


async def test_a_return_label_is_bought_once_and_tracked_to_the_warehouse(
    carrier: EasyPostCarrier,
    control: SandboxControl,
    http: httpx.AsyncClient,
    set_faults: SetFaults,
    order_id: str,
    ledger: ReadLedger,
) -> None:
    request = return_label(order_id)
    # Both the create and the purchase are applied and their answers lost.
    await set_faults(
        {
            "upstream": "carrier",
            "operation": "shipment.create",
            "order_prefix": order_id,
            "timeout_after_apply_rate": 1.0,
            "faults_per_request": 1,
        },
        {
            "upstream": "carrier",
            "operation": "shipment.buy",
            "order_prefix": order_id,
            "timeout_after_apply_rate": 1.0,
            "faults_per_request": 1,
        },
    )
    label = await carrier.buy_label(request)
    assert label.reference == request.reference and label.tracking_code.startswith("EZ")
    assert await carrier.buy_label(request) == label  # a later attempt reuses it

    shipment = (await http.get(f"/v2/shipments/{request.reference}", headers={"Authorization": "Bearer k"})).json()
    assert shipment["is_return"] is True
    assert shipment["from_address"]["street1"] == CUSTOMER.line1  # from the customer…
    assert shipment["to_address"]["street1"] == WAREHOUSE.line1  # …back to our warehouse
    view = await ledger(order_id)
    assert view["return_labels"] == {"bought": 1, "voided": 0}
    assert view["labels"] == {"bought": 0, "voided": 0}
    assert [e["effect"] for e in view["effects"]] == ["return_label.buy"]

    # The customer drops the parcel off; it reaches the warehouse.
    await control.set_carrier_status(request.reference, "in_transit")
    assert (await carrier.track(request.reference)).status is TrackingStatus.IN_TRANSIT
    await control.set_carrier_status(request.reference, "delivered")
    tracking = await carrier.track(request.reference)
    assert (tracking.status, tracking.tracking_code) == (TrackingStatus.DELIVERED, label.tracking_code)
    assert await carrier.reference_of(label.shipment_id) == request.reference


async def test_an_unused_return_label_is_voided(carrier: EasyPostCarrier, order_id: str, ledger: ReadLedger) -> None:
    request = return_label(order_id, "R-9")
    assert (await carrier.void_label(request.reference)).voided is False  # never bought: nothing to void
    await carrier.buy_label(request)
    assert (await carrier.void_label(request.reference)).voided is True
    assert (await carrier.void_label(request.reference)).voided is True  # again: a no-op
    view = await ledger(order_id)
    assert view["return_labels"] == {"bought": 1, "voided": 1}
    assert [e["effect"] for e in view["effects"]] == ["return_label.buy", "return_label.void"]
