"""The sandbox pushes signed webhooks like the real vendors: EasyPost tracker events, Stripe refund and dispute
events, Standard Webhooks from the ERP, with retries.

A tiny HTTP receiver (``tests/sandbox/receiver.py``) runs in the test's event loop and records every request.
The sandbox is shared by the session (other tests' shipments may still be advancing), so every assertion filters
on this test's own objects, and the webhook configuration is cleared after each test.
"""

import asyncio
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks
import stripe

from connectors.webhook_signatures import SignatureRejected, verify_easypost, verify_standard, verify_stripe
from sandbox.client import SandboxControl
from sandbox.process import free_port
from sandbox.webhooks import WebhookDispatcher, WebhookSettings
from tests.eventually import eventually
from tests.sandbox.conftest import unique
from tests.sandbox.receiver import Receiver, Secrets, configure, now

EASYPOST_AUTH = {"Authorization": "Bearer EZTK_sandbox"}
STRIPE_AUTH = {"Authorization": "Bearer sk_test_sandbox"}
ERP_AUTH = {"Authorization": "Bearer erp-token"}
ADDRESS = {"name": "Ada", "street1": "1 Main St", "city": "Springfield", "zip": "12345", "country": "US"}
PARCEL = {"length": 10, "width": 8, "height": 4, "weight": 16}


# -- upstream calls ------------------------------------------------------------------------------------------


async def buy_shipment(http: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    shipment = {"to_address": ADDRESS, "from_address": ADDRESS, "parcel": PARCEL, "reference": f"{order_id}:s:1"}
    created = await http.post("/v2/shipments", json={"shipment": shipment}, headers=EASYPOST_AUTH)
    assert created.status_code == 201, created.text
    rate = created.json()["rates"][0]["id"]
    bought = await http.post(
        f"/v2/shipments/{created.json()['id']}/buy", json={"rate": {"id": rate}}, headers=EASYPOST_AUTH
    )
    assert bought.status_code == 200, bought.text
    result: dict[str, Any] = bought.json()
    return result


async def captured_intent(http: httpx.AsyncClient, order_id: str, amount: int = 4200) -> str:
    form = {
        "amount": str(amount),
        "currency": "eur",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "capture_method": "automatic",
        "metadata[order_id]": order_id,
    }
    response = await http.post("/v1/payment_intents", data=form, headers=STRIPE_AUTH)
    assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text
    intent_id: str = response.json()["id"]
    return intent_id


async def committed_hold(http: httpx.AsyncClient, order_id: str) -> str:
    hold_id = f"{order_id}:inventory.hold:1"
    body = {"order_id": order_id, "lines": [{"sku": "SKU-1", "quantity": 1}]}
    assert (await http.put(f"/erp/v1/holds/{hold_id}", json=body, headers=ERP_AUTH)).status_code == 201
    assert (await http.post(f"/erp/v1/holds/{hold_id}/commit", headers=ERP_AUTH)).status_code == 200
    return hold_id


# -- tests -----------------------------------------------------------------------------------------------------


async def test_settings_are_validated_masked_and_cleared(
    control: SandboxControl, http: httpx.AsyncClient, keys: Secrets
) -> None:
    bad = [
        {"erp": {"url": "http://127.0.0.1:9/erp", "secret": "not-whsec"}},
        {"erp": {"url": "http://127.0.0.1:9/erp", "secret": "whsec_***"}},
        {"carrier": {"url": "ftp://127.0.0.1/x", "secret": "s"}},
        {"payment": {"url": "http://127.0.0.1:9/p", "secret": ""}},
        {"payment": {"url": "http://127.0.0.1:9/p", "secret": "s", "extra": 1}},
        {"email": None},
    ]
    for body in bad:
        response = await http.put("/_sandbox/webhooks", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"

    shown = await control.set_webhooks(
        carrier={"url": "http://127.0.0.1:9/carrier", "secret": keys.carrier},
        erp={"url": "http://127.0.0.1:9/erp", "secret": keys.erp},
    )
    assert shown == await control.webhooks()
    assert shown["payment"] is None
    assert shown["carrier"]["url"] == "http://127.0.0.1:9/carrier"
    assert shown["erp"]["secret"].startswith("whsec_****")
    text = json.dumps(shown)
    assert keys.carrier not in text and keys.erp not in text
    assert keys.erp.removeprefix("whsec_")[:8] not in text

    await control.clear_webhooks()
    assert await control.webhooks() == {"carrier": None, "payment": None, "erp": None}
    zero = {"sent": 0, "failed_attempts": 0, "dropped": 0}
    assert await control.webhook_stats() == {"carrier": zero, "payment": zero, "erp": zero}


async def test_tracker_auto_advance_pushes_each_step_in_order(
    control: SandboxControl, receiver: Receiver, http: httpx.AsyncClient, keys: Secrets, order_id: str
) -> None:
    await configure(control, receiver, keys, "carrier")
    shipment = await buy_shipment(http, order_id)

    def mine(event: dict[str, Any]) -> bool:
        return bool(event["result"]["shipment_id"] == shipment["id"])

    pushed = await receiver.wait_for("/carrier", mine, count=3, within=6)
    events = [r.json() for r in pushed]
    assert [e["result"]["status"] for e in events] == ["in_transit", "out_for_delivery", "delivered"]
    for request, event in zip(pushed, events, strict=True):
        verify_easypost(keys.carrier, request.headers, request.body)
        assert request.headers["content-type"] == "application/json"
        assert event["id"].startswith("evt_")
        assert (event["object"], event["description"], event["mode"]) == ("Event", "tracker.updated", "test")
        assert abs(datetime.fromisoformat(event["created_at"]) - now()) < timedelta(minutes=1)
        tracker = event["result"]
        assert tracker["object"] == "Tracker"
        assert tracker["id"] == shipment["tracker"]["id"]
        assert tracker["tracking_code"] == shipment["tracking_code"]
        assert tracker["tracking_details"][-1]["status"] == tracker["status"]
    assert len({e["id"] for e in events}) == 3
    with pytest.raises(SignatureRejected, match="no valid signature"):
        verify_easypost("another-secret", pushed[0].headers, pushed[0].body)

    tracker = (await http.get(f"/v2/trackers/{shipment['tracker']['id']}", headers=EASYPOST_AUTH)).json()
    assert tracker["status"] == "delivered"


async def test_forced_status_pushes_and_stops_the_advance(
    control: SandboxControl, receiver: Receiver, http: httpx.AsyncClient, keys: Secrets, order_id: str
) -> None:
    await configure(control, receiver, keys, "carrier")
    forced = await buy_shipment(http, order_id)
    voided = await buy_shipment(http, unique())
    assert (await http.post(f"/v2/shipments/{voided['id']}/refund", headers=EASYPOST_AUTH)).status_code == 200

    tracker = await control.set_carrier_status(forced["reference"], "failure")
    assert tracker["status"] == "failure"
    await control.set_carrier_status(forced["reference"], "failure")  # no change, no event

    def of(shipment: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
        return lambda event: bool(event["result"]["shipment_id"] == shipment["id"])

    [pushed] = await receiver.wait_for("/carrier", lambda e: of(forced)(e) and e["result"]["status"] == "failure")
    verify_easypost(keys.carrier, pushed.headers, pushed.body)
    assert pushed.json()["result"]["tracking_code"] == forced["tracking_code"]
    await asyncio.sleep(1.3)  # past the first transit step (1 s): neither shipment advances any more
    statuses = [r.json()["result"]["status"] for r in receiver.matching("/carrier", of(forced))]
    assert statuses in (["failure"], ["in_transit", "failure"])  # in_transit only on a very slow machine
    assert receiver.matching("/carrier", of(voided)) == []


async def test_refund_and_dispute_push_stripe_events(
    control: SandboxControl, receiver: Receiver, http: httpx.AsyncClient, keys: Secrets, order_id: str
) -> None:
    await configure(control, receiver, keys, "payment")
    intent_id = await captured_intent(http, order_id, amount=4200)
    refund = await http.post(
        "/v1/refunds",
        data={"payment_intent": intent_id, "amount": "1500", "metadata[order_id]": order_id},
        headers=STRIPE_AUTH,
    )
    assert refund.status_code == 200, refund.text

    def of_intent(kind: str) -> Callable[[dict[str, Any]], bool]:
        return lambda event: event["type"] == kind and event["data"]["object"]["payment_intent"] == intent_id

    [refunded] = await receiver.wait_for("/payment", of_intent("refund.updated"))
    event = refunded.json()
    assert event["object"] == "event" and event["livemode"] is False and event["id"].startswith("evt_")
    assert abs(event["created"] - time.time()) < 60
    obj = event["data"]["object"]
    assert obj["id"] == refund.json()["id"] and obj["object"] == "refund"
    assert (obj["amount"], obj["status"], obj["metadata"]) == (1500, "succeeded", {"order_id": order_id})
    verify_stripe(keys.payment, refunded.headers, refunded.body, now())
    official = stripe.Webhook.construct_event(refunded.body, refunded.headers["stripe-signature"], keys.payment)
    assert (official.id, official.type, official.data.object.id) == (event["id"], "refund.updated", obj["id"])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(refunded.body, refunded.headers["stripe-signature"], "whsec_other")

    dispute = await control.dispute(intent_id, "fraudulent")
    assert dispute["id"].startswith("du_")
    assert (dispute["object"], dispute["status"], dispute["reason"]) == ("dispute", "needs_response", "fraudulent")
    assert (dispute["payment_intent"], dispute["amount"]) == (intent_id, 4200)
    [disputed] = await receiver.wait_for("/payment", of_intent("charge.dispute.created"))
    verify_stripe(keys.payment, disputed.headers, disputed.body, now())
    official = stripe.Webhook.construct_event(disputed.body, disputed.headers["stripe-signature"], keys.payment)
    assert official.type == "charge.dispute.created"
    assert disputed.json()["data"]["object"] == dispute

    again = await http.post(f"/_sandbox/payment/{intent_id}/dispute", json={"reason": "duplicate"})
    assert again.status_code == 200 and again.json()["id"] == dispute["id"]  # one dispute per charge
    unknown = await http.post("/_sandbox/payment/pi_unknown/dispute", json={"reason": "fraudulent"})
    assert unknown.status_code == 404
    invalid = await http.post(f"/_sandbox/payment/{intent_id}/dispute", json={"reason": "bored"})
    assert invalid.status_code == 422
    uncaptured = await http.post(
        "/v1/payment_intents",
        data={
            "amount": "100",
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": "true",
            "capture_method": "manual",
        },
        headers=STRIPE_AUTH,
    )
    assert uncaptured.json()["status"] == "requires_capture"
    conflict = await http.post(f"/_sandbox/payment/{uncaptured.json()['id']}/dispute", json={})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "not_captured"
    await asyncio.sleep(0.2)
    assert len(receiver.matching("/payment", of_intent("charge.dispute.created"))) == 1
    stats = await control.webhook_stats()
    assert stats["payment"] == {"sent": 2, "failed_attempts": 0, "dropped": 0}


async def test_erp_commit_and_stock_changes_push_standard_webhooks(
    control: SandboxControl, receiver: Receiver, http: httpx.AsyncClient, keys: Secrets, order_id: str
) -> None:
    await configure(control, receiver, keys, "erp")
    hold_id = await committed_hold(http, order_id)
    sku = unique("SKU")
    await control.set_stock(sku, 3, "2031-05-01")
    await control.set_stock(sku, 3, "2031-05-01")  # unchanged: no event
    await control.set_stock(sku, 0, None)

    [confirmed] = await receiver.wait_for(
        "/erp", lambda e: e["type"] == "shipment.confirmed" and e["data"]["hold_id"] == hold_id
    )
    payload = confirmed.json()
    assert payload["data"] == {"order_id": order_id, "hold_id": hold_id}
    assert abs(datetime.fromisoformat(payload["timestamp"]) - now()) < timedelta(minutes=1)
    assert verify_standard(keys.erp, confirmed.headers, confirmed.body, now()).startswith("evt_")
    official = standardwebhooks.Webhook(keys.erp).verify(confirmed.body, confirmed.headers)
    assert official == payload

    changes = await receiver.wait_for(
        "/erp", lambda e: e["type"] == "stock.changed" and e["data"]["sku"] == sku, count=2
    )
    assert [r.json()["data"] for r in changes] == [
        {"sku": sku, "available": 3, "restock_date": "2031-05-01"},
        {"sku": sku, "available": 0, "restock_date": None},
    ]
    ids = [verify_standard(keys.erp, r.headers, r.body, now()) for r in changes]
    assert len(set(ids)) == 2 and confirmed.headers["webhook-id"] not in ids

    # A second commit is a no-op: nothing new is confirmed.
    assert (await http.post(f"/erp/v1/holds/{hold_id}/commit", headers=ERP_AUTH)).status_code == 200
    await asyncio.sleep(0.2)
    assert len(receiver.matching("/erp", lambda e: e["data"].get("hold_id") == hold_id)) == 1


async def test_failed_deliveries_are_retried_with_the_same_event_id_in_order(
    control: SandboxControl, receiver: Receiver, keys: Secrets
) -> None:
    await configure(control, receiver, keys, "erp")
    sku = unique("SKU")
    receiver.failures["/erp"] = 2
    await control.set_stock(sku, 5)
    await control.set_stock(sku, 4)  # queued behind the first change, which is being retried

    deliveries = await receiver.wait_for("/erp", lambda e: e["data"].get("sku") == sku, count=4, within=6)
    assert [r.answered for r in deliveries] == [500, 500, 200, 200]
    ids = [verify_standard(keys.erp, r.headers, r.body, now()) for r in deliveries]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert deliveries[0].body == deliveries[1].body == deliveries[2].body  # the same event, redelivered
    assert [r.json()["data"]["available"] for r in deliveries] == [5, 5, 5, 4]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(deliveries[:3])]
    assert gaps[0] >= 0.4 and gaps[1] >= 0.9  # backoff 0.5 s, then 1 s
    stats = await control.webhook_stats()
    assert stats["erp"] == {"sent": 2, "failed_attempts": 2, "dropped": 0}


async def test_unconfigured_sources_get_nothing(
    control: SandboxControl, receiver: Receiver, http: httpx.AsyncClient, keys: Secrets, order_id: str
) -> None:
    await configure(control, receiver, keys, "payment")
    shipment = await buy_shipment(http, order_id)
    await control.set_carrier_status(shipment["id"], "delivered")
    hold_id = await committed_hold(http, order_id)
    early_sku = unique("SKU")
    await control.set_stock(early_sku, 7)
    intent_id = await captured_intent(http, order_id)
    refund = await http.post("/v1/refunds", data={"payment_intent": intent_id}, headers=STRIPE_AUTH)
    assert refund.status_code == 200
    # The payment event shows the sandbox pushed what it was configured for, and nothing else.
    await receiver.wait_for("/payment", lambda e: e["data"]["object"]["payment_intent"] == intent_id)
    await asyncio.sleep(0.2)
    assert {r.path for r in receiver.requests} == {"/payment"}
    stats = await control.webhook_stats()
    assert stats["carrier"] == stats["erp"] == {"sent": 0, "failed_attempts": 0, "dropped": 0}

    # Events that happened while a source was unconfigured are not delivered later either.
    await configure(control, receiver, keys, "carrier", "erp")
    barrier = unique("SKU")
    await control.set_stock(barrier, 1)
    await receiver.wait_for("/erp", lambda e: e["data"].get("sku") == barrier)
    assert receiver.matching("/erp", lambda e: e["data"].get("sku") == early_sku) == []
    assert receiver.matching("/erp", lambda e: e["data"].get("hold_id") == hold_id) == []
    assert receiver.matching("/carrier", lambda e: e["result"]["shipment_id"] == shipment["id"]) == []


async def test_dispatcher_drops_after_max_attempts(receiver: Receiver) -> None:
    """In process, with a short backoff: 6 failed attempts (500s or a closed port), then the event is dropped."""
    dispatcher = WebhookDispatcher(first_backoff_seconds=0.01, timeout_seconds=1)
    await dispatcher.start()
    try:
        receiver.failures["/carrier"] = 100
        closed = f"http://127.0.0.1:{free_port()}/closed"
        dispatcher.configure(
            WebhookSettings.model_validate(
                {
                    "carrier": {"url": receiver.url("/carrier"), "secret": "s"},
                    "payment": {"url": closed, "secret": "whsec_s"},
                }
            )
        )
        dispatcher.tracker_updated({"id": "trk_1", "shipment_id": "shp_1", "status": "in_transit"})
        dispatcher.stripe_event("refund.updated", {"id": "re_1", "status": "succeeded"})

        async def stats_now() -> dict[str, dict[str, int]]:
            return dispatcher.stats_snapshot()

        stats = await eventually(
            stats_now,
            lambda stats: sum(counts["dropped"] for counts in stats.values()) >= 2,
            what="both events dropped",
            timeout_s=5,
        )
        assert stats["carrier"] == stats["payment"] == {"sent": 0, "failed_attempts": 6, "dropped": 1}
        assert len(receiver.requests) == 6 and len({r.json()["id"] for r in receiver.requests}) == 1
    finally:
        await dispatcher.stop()


async def test_reconfiguration_discards_pending_deliveries(receiver: Receiver) -> None:
    """A retry waiting out a long backoff is discarded at once when its endpoint changes."""
    dispatcher = WebhookDispatcher(first_backoff_seconds=30)
    await dispatcher.start()
    try:
        endpoint = {"url": receiver.url("/erp"), "secret": Secrets().erp}
        receiver.failures["/erp"] = 1
        dispatcher.configure(WebhookSettings.model_validate({"erp": endpoint}))
        dispatcher.erp_event("stock.changed", "SKU-OLD", "1:None", {"sku": "SKU-OLD"})
        await receiver.wait_for("/erp", lambda e: e["data"]["sku"] == "SKU-OLD")
        dispatcher.configure(WebhookSettings.model_validate({"erp": {**endpoint, "url": receiver.url("/erp2")}}))
        dispatcher.erp_event("stock.changed", "SKU-NEW", "1:None", {"sku": "SKU-NEW"})
        await receiver.wait_for("/erp2", lambda e: e["data"]["sku"] == "SKU-NEW", within=2)
        assert [r.json()["data"]["sku"] for r in receiver.requests] == ["SKU-OLD", "SKU-NEW"]
        assert dispatcher.stats_snapshot()["erp"] == {"sent": 1, "failed_attempts": 0, "dropped": 0}
    finally:
        await dispatcher.stop()


def test_event_ids_are_derived_from_object_and_status() -> None:
    def derived(material: str) -> str:
        return "evt_" + hashlib.sha256(material.encode()).hexdigest()[:24]

    first, second = WebhookDispatcher(), WebhookDispatcher()
    assert first.event_id("refund.updated", "re_1", "succeeded") == derived("refund.updated:re_1:succeeded")
    assert second.event_id("refund.updated", "re_1", "succeeded") == derived("refund.updated:re_1:succeeded")
    assert first.event_id("tracker.updated", "trk_1", "failure") == derived("tracker.updated:trk_1:failure")
    # The object reaching the same status again is a new event, with a new (still derived) id.
    assert first.event_id("refund.updated", "re_1", "succeeded") == derived("refund.updated:re_1:succeeded:2")
