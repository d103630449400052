"""Inbound webhooks: anything not provably fresh and authentic is refused with 4xx and reaches no workflow; what is
authentic but not for the hub (an unknown type, another system's shipment, a repeat) is acknowledged and moves
nothing, so that the sender stops retrying."""

from datetime import timedelta

import httpx
from temporalio.client import Client

from domain.contract import order_workflow_id
from tests.api.conftest import ApiHub, until
from tests.api.test_orders_api import order_json, shipment_id_of
from tests.api.webhook_requests import carrier_delivery, erp_shipment_confirmed, payment_dispute

Request = tuple[str, bytes, dict[str, str]]


async def _signals(temporal: Client, order_id: str) -> int:
    history = await temporal.get_workflow_handle(order_workflow_id(order_id)).fetch_history()
    return sum(1 for e in history.events if e.HasField("workflow_execution_signaled_event_attributes"))


async def test_unsigned_tampered_stale_or_huge_webhooks_are_refused_and_foreign_or_repeated_ones_acknowledged(
    api_hub: ApiHub, temporal_client: Client, http: httpx.AsyncClient
) -> None:
    secrets = api_hub.settings.api.webhooks
    carrier, erp, payment = (getattr(secrets, s).get_secret_value() for s in ("carrier", "erp", "payment"))
    body = order_json()
    await http.post("/orders", json=body)
    order_id = body["order_id"]
    await until(http, f"/orders/{order_id}", lambda o: o["payment_status"] == "captured")
    shipment = await shipment_id_of(api_hub, order_id)
    valid, valid_headers = carrier_delivery(carrier, shipment, "failure")

    def without(name: str) -> dict[str, str]:
        return {k: v for k, v in valid_headers.items() if k != name}

    def flipped(data: bytes) -> bytes:
        return data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]

    unknown_type, unknown_headers = carrier_delivery(carrier, shipment, kind="parcel.teleported")
    refusals: dict[str, tuple[Request, int]] = {
        "missing signature header": (("/webhooks/carrier", valid, without("X-Hmac-Signature")), 401),
        "garbled header": (("/webhooks/carrier", valid, {**valid_headers, "X-Hmac-Signature": "sha1=zz"}), 401),
        "wrong secret": (("/webhooks/carrier", *carrier_delivery("not-the-secret", shipment)), 401),
        "one body byte changed": (("/webhooks/carrier", flipped(valid), valid_headers), 401),
        "carrier event 6 minutes old": (
            ("/webhooks/carrier", *carrier_delivery(carrier, shipment, age=timedelta(minutes=6))),
            400,
        ),
        "erp timestamp 6 minutes old": (
            ("/webhooks/erp", *erp_shipment_confirmed(erp, order_id, age=timedelta(minutes=6))),
            401,
        ),
        "erp timestamp 6 minutes ahead": (
            ("/webhooks/erp", *erp_shipment_confirmed(erp, order_id, age=-timedelta(minutes=6))),
            401,
        ),
        "stripe timestamp 6 minutes old": (
            ("/webhooks/payment", *payment_dispute(payment, "pi_x", age=timedelta(minutes=6))),
            401,
        ),
        "body over 1 MiB": (("/webhooks/carrier", b"{" + b" " * (1024 * 1024) + b"}", valid_headers), 413),
    }
    for case, ((path, content, headers), status) in refusals.items():
        answer = await http.post(path, content=content, headers=headers)
        assert answer.status_code == status, (case, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", case
    assert await _signals(temporal_client, order_id) == 0
    # Verified but not for the hub: acknowledged, so that the sender stops retrying, and nothing moves.
    unknown = await http.post("/webhooks/carrier", content=unknown_type, headers=unknown_headers)
    assert (unknown.status_code, unknown.json()) == (
        202,
        {"event_id": None, "outcome": "ignored", "orders_woken": None},
    )
    foreign, foreign_headers = carrier_delivery(carrier, "shp_from_another_system")
    answer = await http.post("/webhooks/carrier", content=foreign, headers=foreign_headers)
    assert (answer.status_code, answer.json()["outcome"]) == (202, "not_routed")
    assert await _signals(temporal_client, order_id) == 0

    accepted = await http.post("/webhooks/carrier", content=valid, headers=valid_headers)
    assert accepted.status_code == 202 and accepted.json()["outcome"] == "delivered"
    # The sender's retry after a lost answer: acknowledged as a duplicate, never signalled twice.
    replayed = await http.post("/webhooks/carrier", content=valid, headers=valid_headers)
    assert (replayed.status_code, replayed.json()["outcome"]) == (202, "duplicate"), replayed.text
    assert await _signals(temporal_client, order_id) == 1
    moved = await until(http, f"/orders/{order_id}", lambda o: o["fulfillment_status"] == "exception")
    assert moved["status"] == "confirmed"
    # A scan that only says the parcel moves on is accepted but costs the order no signal (a billed action).
    progress, progress_headers = carrier_delivery(carrier, shipment, "in_transit")
    answer = await http.post("/webhooks/carrier", content=progress, headers=progress_headers)
    assert answer.status_code == 202 and answer.json()["outcome"] == "ignored"
    assert await _signals(temporal_client, order_id) == 1
    # Leave the order finished rather than waiting an hour for its next poll.
    delivered, delivered_headers = carrier_delivery(carrier, shipment)
    await http.post("/webhooks/carrier", content=delivered, headers=delivered_headers)
