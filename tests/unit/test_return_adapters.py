"""The adapters' side of returns, over httpx's MockTransport: EasyPost return labels and ERP return receipts."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.easypost_carrier import EasyPostCarrier
from connectors.errors import BusinessRejection, ConfigurationError, IndeterminateError
from connectors.rest_erp import RestErpInventory
from domain.inventory import ReturnedStock, ReturnReceiptRecord
from domain.order import Address
from domain.returns import Disposition
from domain.shipping import LabelRequest
from tests.fakes import Effects, FakeInventory

Handler = Callable[[httpx.Request], httpx.Response]

CUSTOMER = Address(line1="3 rue des Lilas", city="Paris", postal_code="75011", country="FR")
WAREHOUSE = Address(line1="1 Depot Road", city="Lyon", postal_code="69007", country="FR")
REFERENCE = "A-1:rma.R-7.return-label:1"
RETURN_LABEL = LabelRequest(reference=REFERENCE, order_id="A-1", to_address=CUSTOMER, to_name="Ana", is_return=True)
SHIPMENT = {
    "id": "shp_r",
    "reference": REFERENCE,
    "is_return": True,
    "rates": [{"id": "rate_2", "rate": "9.10"}, {"id": "rate_1", "rate": "7.50"}],
    "postage_label": None,
}
BOUGHT = {
    **SHIPMENT,
    "postage_label": {"label_url": "http://label"},
    "tracking_code": "TRKR",
    "selected_rate": {"carrier": "USPS", "service": "GroundAdvantage", "rate": "7.50"},
}


def _client(handler: Handler, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=httpx.MockTransport(handler))


def _carrier(handler: Handler) -> EasyPostCarrier:
    return EasyPostCarrier(_client(handler, "http://easypost/v2"), ship_from=WAREHOUSE, ship_from_name="Warehouse")


def _not_found() -> httpx.Response:
    return httpx.Response(404, json={"error": {"code": "NOT_FOUND"}})


# -- EasyPost return labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize("is_return", [True, False])
async def test_a_return_label_is_an_easypost_return_with_the_outbound_addresses(is_return: bool) -> None:
    created: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return _not_found()
        if request.url.path == "/v2/shipments":
            created.append(json.loads(request.content)["shipment"])
            return httpx.Response(201, json=SHIPMENT)
        return httpx.Response(200, json=BOUGHT)

    label = await _carrier(handler).buy_label(RETURN_LABEL.model_copy(update={"is_return": is_return}))
    [shipment] = created
    assert shipment.get("is_return", False) is is_return
    assert "is_return" in shipment or not is_return  # an outbound shipment's body is unchanged
    # EasyPost swaps the addresses of a return itself: we send them as for the outbound parcel.
    assert (shipment["to_address"]["name"], shipment["to_address"]["street1"]) == ("Ana", CUSTOMER.line1)
    assert (shipment["from_address"]["name"], shipment["from_address"]["street1"]) == ("Warehouse", WAREHOUSE.line1)
    assert shipment["reference"] == REFERENCE
    assert (label.reference, label.tracking_code) == (REFERENCE, "TRKR")


async def test_a_return_shipment_created_by_a_lost_attempt_is_found_by_reference_not_created_again() -> None:
    calls: list[str] = []
    state = {"created": False}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json=SHIPMENT) if state["created"] else _not_found()
        if request.url.path == "/v2/shipments":
            state["created"] = True
            raise httpx.ReadTimeout("created, answer lost", request=request)
        assert json.loads(request.content) == {"rate": {"id": "rate_1"}}
        return httpx.Response(200, json=BOUGHT)

    label = await _carrier(handler).buy_label(RETURN_LABEL)
    assert calls == [
        f"GET /v2/shipments/{REFERENCE}",
        "POST /v2/shipments",
        f"GET /v2/shipments/{REFERENCE}",
        "POST /v2/shipments/shp_r/buy",
    ]
    assert label.shipment_id == "shp_r"


async def test_a_return_label_bought_by_an_earlier_attempt_is_reused() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=BOUGHT)

    label = await _carrier(handler).buy_label(RETURN_LABEL)
    assert calls == [f"GET /v2/shipments/{REFERENCE}"]
    assert label.tracking_code == "TRKR"


# -- ERP return receipts ----------------------------------------------------------------------------------------

RECEIPT_ID = "A-1:rma.R-7.return-receipt:1"
LINES = [
    ReturnedStock(sku="PEN-01", quantity=2, disposition=Disposition.RESTOCK),
    ReturnedStock(sku="INK-07", quantity=1, disposition=Disposition.DAMAGED),
]
RECEIPT = {
    "receipt_id": RECEIPT_ID,
    "order_id": "A-1",
    "lines": [
        {"sku": "INK-07", "quantity": 1, "disposition": "damaged"},
        {"sku": "PEN-01", "quantity": 2, "disposition": "restock"},
    ],
    "received_at": "2026-11-30T09:12:44.120311Z",
}
RECEIPT_PATH = "/erp/v1/returns/A-1%3Arma.R-7.return-receipt%3A1"


def _erp(handler: Handler) -> RestErpInventory:
    return RestErpInventory(_client(handler, "http://erp/erp"))


async def _receive(erp: RestErpInventory) -> ReturnReceiptRecord:
    return await erp.receive_return(receipt_id=RECEIPT_ID, order_id="A-1", lines=LINES)


async def test_receive_return_puts_the_receipt_named_by_our_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=RECEIPT)

    record = await _receive(_erp(handler))
    [request] = seen
    assert (request.method, request.url.raw_path.decode()) == ("PUT", RECEIPT_PATH)
    assert json.loads(request.content) == {
        "order_id": "A-1",
        "lines": [
            {"sku": "PEN-01", "quantity": 2, "disposition": "restock"},
            {"sku": "INK-07", "quantity": 1, "disposition": "damaged"},
        ],
    }
    assert record.receipt_id == RECEIPT_ID and record.order_id == "A-1"
    assert record.received_at == datetime(2026, 11, 30, 9, 12, 44, 120311, tzinfo=UTC)
    assert {(line.sku, line.disposition) for line in record.lines} == {
        ("PEN-01", Disposition.RESTOCK),
        ("INK-07", Disposition.DAMAGED),
    }


async def test_a_lost_answer_is_reconciled_by_reading_the_receipt_not_by_sending_it_again() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "PUT":
            raise httpx.ReadTimeout("applied, answer lost", request=request)
        assert request.url.raw_path.decode() == RECEIPT_PATH
        return httpx.Response(200, json=RECEIPT)  # the lines in another order: the same receipt

    record = await _receive(_erp(handler))
    assert calls == ["PUT", "GET"]
    assert record.receipt_id == RECEIPT_ID


@pytest.mark.parametrize(
    "found",
    [
        pytest.param(None, id="absent: the PUT may not have been applied"),
        pytest.param({**RECEIPT, "lines": RECEIPT["lines"][:1]}, id="other lines: a resend gets receipt_mismatch"),
        pytest.param({**RECEIPT, "order_id": "A-2"}, id="another order"),
    ],
)
async def test_a_lost_answer_stays_indeterminate_unless_this_very_receipt_is_found(
    found: dict[str, Any] | None,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(503, json={"error": {"code": "unavailable"}})
        return _not_found() if found is None else httpx.Response(200, json=found)

    with pytest.raises(IndeterminateError):
        await _receive(_erp(handler))


async def test_a_receipt_with_other_lines_is_a_business_rejection() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": {"code": "receipt_mismatch", "message": "other lines"}})

    with pytest.raises(BusinessRejection) as raised:
        await _receive(_erp(handler))
    assert raised.value.code == "receipt_mismatch"


async def test_a_malformed_receipt_is_a_configuration_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"error": {"code": "invalid_request", "message": "no"}})

    with pytest.raises(ConfigurationError):
        await _receive(_erp(handler))


async def test_get_return_is_none_when_the_erp_has_no_such_receipt() -> None:
    erp = _erp(lambda request: _not_found())
    assert await erp.get_return(RECEIPT_ID) is None


async def test_the_fake_inventory_receives_a_return_once_per_receipt() -> None:
    effects = Effects()
    fake = FakeInventory(effects)
    first = await fake.receive_return(receipt_id=RECEIPT_ID, order_id="A-1", lines=LINES)
    again = await fake.receive_return(receipt_id=RECEIPT_ID, order_id="A-1", lines=list(reversed(LINES)))
    assert again == first and effects.counts["return.receive"] == 1
    with pytest.raises(BusinessRejection) as raised:
        await fake.receive_return(receipt_id=RECEIPT_ID, order_id="A-1", lines=LINES[:1])
    assert raised.value.code == "receipt_mismatch"
    await fake.receive_return(receipt_id=f"{RECEIPT_ID}2", order_id="A-1", lines=LINES[:1])
    assert effects.counts["return.receive"] == 2
