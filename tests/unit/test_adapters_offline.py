"""Adapter behaviour that a live sandbox cannot force on demand, over httpx's MockTransport."""

import json
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.easypost_carrier import EasyPostCarrier
from connectors.errors import BusinessRejection
from connectors.stripe_payments import StripePaymentGateway
from domain.order import Address
from domain.shipping import LabelRequest

Handler = Callable[[httpx.Request], httpx.Response]

INTENT = {
    "id": "pi_1",
    "object": "payment_intent",
    "amount": 12900,
    "amount_received": 0,
    "currency": "eur",
    "status": "requires_capture",
    "metadata": {"order_id": "A-1", "hub_reference": "A-1:payment.authorize:1"},
}


def _client(handler: Handler, base_url: str = "http://stripe") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=httpx.MockTransport(handler))


async def _authorize(gateway: StripePaymentGateway) -> object:
    return await gateway.authorize(
        order_id="A-1",
        amount=12900,
        currency="EUR",
        payment_method="pm_card_visa",
        idempotency_key="A-1:payment.authorize:1",
    )


async def test_authorize_sends_a_manual_capture_form_with_our_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=INTENT)

    payment = await _authorize(StripePaymentGateway(_client(handler)))
    [request] = seen
    form = parse_qs(request.content.decode())
    assert request.headers["Idempotency-Key"] == "A-1:payment.authorize:1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["capture_method"] == ["manual"] and form["confirm"] == ["true"]
    assert form["amount"] == ["12900"] and form["currency"] == ["eur"]
    assert form["metadata[order_id]"] == ["A-1"]
    assert payment.authorized == 12900  # type: ignore[attr-defined]


async def test_authorize_whose_answer_was_lost_is_found_by_our_reference_not_sent_again() -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            raise httpx.ReadTimeout("applied, answer lost", request=request)
        assert request.url.path == "/v1/payment_intents/search"
        assert request.url.params["query"] == "metadata['order_id']:'A-1'"
        return httpx.Response(200, json={"object": "search_result", "data": [INTENT]})

    payment = await _authorize(StripePaymentGateway(_client(handler)))
    assert posts == 1
    assert payment.payment_id == "pi_1"  # type: ignore[attr-defined]


async def test_a_decline_is_a_business_rejection_with_the_decline_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "no"}
        return httpx.Response(402, json={"error": error})

    with pytest.raises(BusinessRejection) as raised:
        await _authorize(StripePaymentGateway(_client(handler)))
    assert raised.value.code == "insufficient_funds"


SHIPMENT = {
    "id": "shp_1",
    "reference": "A-1:shipment:1",
    "rates": [{"id": "rate_2", "rate": "9.10"}, {"id": "rate_1", "rate": "7.50"}],
    "postage_label": None,
}
BOUGHT = {
    **SHIPMENT,
    "postage_label": {"label_url": "http://label"},
    "tracking_code": "TRK1",
    "selected_rate": {"carrier": "USPS", "service": "Priority", "rate": "7.50"},
}
REQUEST = LabelRequest(
    reference="A-1:shipment:1",
    order_id="A-1",
    to_name="Ana",
    to_address=Address(line1="3 rue des Lilas", city="Paris", postal_code="75011", country="FR"),
)


def _carrier(handler: Handler) -> EasyPostCarrier:
    return EasyPostCarrier(
        _client(handler, "http://easypost/v2"), ship_from=REQUEST.to_address, ship_from_name="Warehouse"
    )


async def test_a_label_bought_by_an_earlier_attempt_is_reused_not_bought_again() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=BOUGHT)

    label = await _carrier(handler).buy_label(REQUEST)
    assert calls == ["GET /v2/shipments/A-1:shipment:1"]
    assert label.tracking_code == "TRK1"


async def test_buying_creates_with_our_reference_then_buys_the_cheapest_rate() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND"}})
        if request.url.path == "/v2/shipments":
            assert json.loads(request.content)["shipment"]["reference"] == "A-1:shipment:1"
            return httpx.Response(201, json=SHIPMENT)
        assert json.loads(request.content) == {"rate": {"id": "rate_1"}}
        return httpx.Response(200, json=BOUGHT)

    await _carrier(handler).buy_label(REQUEST)
    assert calls == ["GET /v2/shipments/A-1:shipment:1", "POST /v2/shipments", "POST /v2/shipments/shp_1/buy"]


async def test_postage_already_bought_is_reconciled_into_the_existing_label() -> None:
    gets = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal gets
        if request.method == "GET":
            gets += 1
            return httpx.Response(200, json=SHIPMENT if gets == 1 else BOUGHT)
        return httpx.Response(422, json={"error": {"code": "SHIPMENT.POSTAGE.EXISTS", "message": "exists"}})

    label = await _carrier(handler).buy_label(REQUEST)
    assert label.shipment_id == "shp_1" and gets == 2


async def test_voiding_a_label_that_was_never_bought_is_a_no_op() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND"}})

    void = await _carrier(handler).void_label("A-1:shipment:1")
    assert void.voided is False
