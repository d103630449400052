"""The retailer's backend receives every status change of an order: signed, in order, without gaps (in batches, each
time the order comes to rest)."""

import json
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.api.conftest import ApiHub, until
from tests.api.test_orders_api import order_json, shipment_id_of
from tests.api.webhook_requests import carrier_delivery
from tests.eventually import eventually


async def test_subscriber_receives_every_status_change_verified_and_without_gaps(
    api_hub: ApiHub, http: httpx.AsyncClient
) -> None:
    body = order_json()
    order_id = body["order_id"]
    await http.post("/orders", json=body)
    await until(http, f"/orders/{order_id}", lambda o: o["payment_status"] == "captured")
    secret = api_hub.settings.api.webhooks.carrier.get_secret_value()  # type: ignore[union-attr]
    shipment = await shipment_id_of(api_hub, order_id)
    for status in ("in_transit", "failure", "delivered"):  # a progress scan is not the order's business
        payload, headers = carrier_delivery(secret, shipment, status)
        assert (await http.post("/webhooks/carrier", content=payload, headers=headers)).status_code == 202
    final = await until(http, f"/orders/{order_id}", lambda o: o["status"] == "completed")

    async def received() -> list[dict[str, Any]]:
        return api_hub.subscriber.events_for(order_id)

    await eventually(  # the last events may still be on their way
        received,
        lambda events: bool(events) and events[-1]["status"] == "completed",
        what=f"{order_id}'s completion received",
        show=lambda events: [e["status"] for e in events],
    )

    verifier = Webhook(api_hub.subscriber.secret)
    deliveries = [r for r in api_hub.subscriber.received if json.loads(r.body)["order_id"] == order_id]
    for delivery in deliveries:
        verifier.verify(delivery.body, delivery.headers)  # raises on a bad signature
        assert delivery.headers["webhook-id"] == json.loads(delivery.body)["event_id"]

    events = api_hub.subscriber.events_for(order_id)
    unique = {e["seq"]: e for e in events}  # a retried batch may repeat an event; its id dedupes it
    assert sorted(unique) == list(range(1, max(unique) + 1))
    states = [
        (unique[n]["status"], unique[n]["payment_status"], unique[n]["fulfillment_status"]) for n in sorted(unique)
    ]
    assert states[0] == ("pending", "not_paid", "open")
    assert ("confirmed", "authorized", "open") in states
    assert ("confirmed", "captured", "exception") in states
    assert not any(fulfilment == "in_transit" for _, _, fulfilment in states)
    assert states[-1] == (final["status"], final["payment_status"], final["fulfillment_status"])
