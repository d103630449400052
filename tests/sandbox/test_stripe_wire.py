"""The official ``stripe`` client, unmodified, against the sandbox's Stripe subset."""

import uuid

import httpx
import pytest
import stripe
from stripe.params import PaymentIntentCreateParams

from sandbox.process import SandboxProcess
from tests.sandbox.conftest import ReadLedger

# The client's own httpx transport (used by the *_async methods) trips an httpx deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
def client(sandbox: SandboxProcess) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.base_url})


def authorize_params(order_id: str, amount: int = 12900, method: str = "pm_card_visa") -> PaymentIntentCreateParams:
    return {
        "amount": amount,
        "currency": "eur",
        "payment_method": method,
        "capture_method": "manual",
        "confirm": True,
        "metadata": {"order_id": order_id},
    }


async def test_authorize_partial_capture_and_refund(
    client: stripe.StripeClient, order_id: str, ledger: ReadLedger
) -> None:
    intent = await client.v1.payment_intents.create_async(authorize_params(order_id))
    assert intent.id.startswith("pi_")
    assert intent.object == "payment_intent"
    assert (intent.status, intent.amount_capturable, intent.livemode) == ("requires_capture", 12900, False)
    assert intent.metadata["order_id"] == order_id

    captured = await client.v1.payment_intents.capture_async(intent.id, {"amount_to_capture": 10000})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 10000, 0)

    refund = await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 3000})
    assert (refund.object, refund.status, refund.amount, refund.payment_intent) == (
        "refund",
        "succeeded",
        3000,
        intent.id,
    )
    refunds = await client.v1.refunds.list_async({"payment_intent": intent.id})
    assert [r.id for r in refunds.data] == [refund.id]

    with pytest.raises(stripe.InvalidRequestError) as too_large:
        await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 7001})
    assert too_large.value.code == "amount_too_large"

    view = await ledger(order_id)
    assert view["payment"] == {
        "authorized": 12900,
        "captured": 10000,
        "refunded": 3000,
        "voided": 2900,
        "currency": "eur",
    }
    assert [e["effect"] for e in view["effects"]] == ["authorize", "capture", "void", "refund"]


async def test_cancel_voids_and_capture_after_cancel_fails(
    client: stripe.StripeClient, order_id: str, ledger: ReadLedger
) -> None:
    intent = await client.v1.payment_intents.create_async(authorize_params(order_id, amount=5000))
    canceled = await client.v1.payment_intents.cancel_async(intent.id)
    assert (canceled.status, canceled.amount_capturable) == ("canceled", 0)

    with pytest.raises(stripe.InvalidRequestError) as unexpected:
        await client.v1.payment_intents.capture_async(intent.id)
    assert (unexpected.value.http_status, unexpected.value.code) == (400, "payment_intent_unexpected_state")

    payment = (await ledger(order_id))["payment"]
    assert (payment["authorized"], payment["voided"], payment["captured"]) == (5000, 5000, 0)


@pytest.mark.parametrize(
    ("method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_declined_card_raises_card_error(
    client: stripe.StripeClient, order_id: str, ledger: ReadLedger, method: str, decline_code: str
) -> None:
    with pytest.raises(stripe.CardError) as declined:
        await client.v1.payment_intents.create_async(authorize_params(order_id, method=method))
    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    assert declined.value.error is not None
    assert declined.value.error.decline_code == decline_code
    assert declined.value.error.payment_intent is not None
    assert declined.value.error.payment_intent["status"] == "requires_payment_method"
    assert (await ledger(order_id))["effects"] == []


async def test_unknown_payment_method_is_resource_missing(client: stripe.StripeClient, order_id: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_intents.create_async(authorize_params(order_id, method="pm_card_nope"))
    assert (missing.value.code, missing.value.param) == ("resource_missing", "payment_method")


def test_idempotent_replay_returns_the_first_response(
    client: stripe.StripeClient, sandbox: SandboxProcess, order_id: str
) -> None:
    # The synchronous (requests-based) transport of the client, as most adapters use it.
    key = f"{order_id}:payment.authorize:1"
    first = client.v1.payment_intents.create(authorize_params(order_id), {"idempotency_key": key})
    again = client.v1.payment_intents.create(authorize_params(order_id), {"idempotency_key": key})
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"

    view = httpx.get(f"{sandbox.base_url}/_sandbox/ledger", params={"order_id": order_id}).json()
    assert [(e["effect"], e["idempotency_key"], e["ref"]) for e in view["effects"]] == [("authorize", key, first.id)]
    assert view["payment"]["authorized"] == 12900

    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(authorize_params(order_id, amount=1), {"idempotency_key": key})


async def test_search_by_order_metadata(client: stripe.StripeClient, order_id: str) -> None:
    mine = [await client.v1.payment_intents.create_async(authorize_params(order_id)) for _ in range(2)]
    await client.v1.payment_intents.create_async(authorize_params(f"{order_id}-other"))

    found = await client.v1.payment_intents.search_async({"query": f"metadata['order_id']:'{order_id}'"})
    assert found.object == "search_result"  # type: ignore[attr-defined]  # on the wire, not in stripe's types
    assert found.has_more is False
    assert sorted(i.id for i in found.data) == sorted(i.id for i in mine)

    nothing = await client.v1.payment_intents.search_async({"query": f"metadata['order_id']:'{uuid.uuid4()}'"})
    assert list(nothing.data) == []


async def test_wrong_api_key_is_an_authentication_error(sandbox: SandboxProcess) -> None:
    client = stripe.StripeClient("rk_live_nope", base_addresses={"api": sandbox.base_url})
    with pytest.raises(stripe.AuthenticationError):
        await client.v1.payment_intents.retrieve_async("pi_whatever")


async def test_raw_form_with_appended_arrays_and_basic_auth(sandbox: SandboxProcess, order_id: str) -> None:
    # What a hand-written adapter sends: ``key[]`` arrays, and curl-style Basic auth with the key as user.
    form = {
        "amount": "700",
        "currency": "usd",
        "payment_method": "pm_card_mastercard",
        "payment_method_types[]": "card",
        "capture_method": "manual",
        "confirm": "true",
        "metadata[order_id]": order_id,
        "metadata[hub_reference]": f"{order_id}:payment.authorize:1",
    }
    async with httpx.AsyncClient(base_url=sandbox.base_url, auth=("sk_test_raw", "")) as http:
        response = await http.post("/v1/payment_intents", data=form)
    assert response.status_code == 200, response.text
    intent = response.json()
    assert (intent["status"], intent["currency"], intent["payment_method_types"]) == (
        "requires_capture",
        "usd",
        ["card"],
    )
    assert intent["metadata"] == {"order_id": order_id, "hub_reference": f"{order_id}:payment.authorize:1"}
