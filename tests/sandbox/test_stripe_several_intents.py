"""Several PaymentIntents for one order, through the hub's Stripe adapter against the sandbox.

The hub authorizes an order more than once (``{order_id}:payment.authorize:1``, ``:2``, …): each intent carries
``metadata[order_id]`` and our key as ``metadata[hub_reference]``, is captured once (possibly partially, the rest
released), and is refunded in parts under distinct idempotency keys, never beyond what it captured.
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from activities.payment import PaymentActivities, ReversePayment
from connectors.errors import BusinessRejection
from connectors.stripe_payments import StripePaymentGateway
from domain.keys import idempotency_key
from domain.payment import Payment, ProviderPaymentState
from sandbox.process import SandboxProcess
from tests.sandbox.conftest import ReadLedger, SetFaults

STRIPE_AUTH = {"Authorization": "Bearer sk_test_sandbox"}


@pytest.fixture
async def stripe_http(sandbox: SandboxProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.base_url, headers=STRIPE_AUTH, timeout=10) as client:
        yield client


@pytest.fixture
def gateway(stripe_http: httpx.AsyncClient) -> StripePaymentGateway:
    return StripePaymentGateway(stripe_http)


def authorize_key(order_id: str, n: int) -> str:
    return idempotency_key(order_id, "payment.authorize", n)


async def authorize(gateway: StripePaymentGateway, order_id: str, n: int, amount: int) -> Payment:
    return await gateway.authorize(
        order_id=order_id,
        amount=amount,
        currency="EUR",
        payment_method="pm_card_visa",
        idempotency_key=authorize_key(order_id, n),
    )


async def test_two_intents_of_one_order_capture_partially_and_refund_in_parts(
    gateway: StripePaymentGateway, stripe_http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    first = await authorize(gateway, order_id, 1, 5000)
    second = await authorize(gateway, order_id, 2, 4000)
    assert first.payment_id != second.payment_id
    assert (first.reference, second.reference) == (authorize_key(order_id, 1), authorize_key(order_id, 2))
    assert first.state is second.state is ProviderPaymentState.AUTHORIZED
    # Authorizing again under the same key is the same intent, not a third one.
    assert (await authorize(gateway, order_id, 1, 5000)).payment_id == first.payment_id

    # Partial captures: the uncaptured rest of each authorization is released, as Stripe does.
    first = await gateway.capture(first, 3000, idempotency_key=f"{order_id}:payment.capture:1")
    second = await gateway.capture(second, 2500, idempotency_key=f"{order_id}:payment.capture:2")
    assert (first.state, first.captured, first.capturable) == (ProviderPaymentState.CAPTURED, 3000, 0)
    assert (second.captured, second.capturable) == (2500, 0)
    raw = (await stripe_http.get(f"/v1/payment_intents/{first.payment_id}")).json()
    assert (raw["status"], raw["amount_received"], raw["amount_capturable"]) == ("succeeded", 3000, 0)

    # Capture-once: nothing more can be captured from either intent, whatever the key.
    for n, (payment, more) in enumerate(((first, 2000), (second, 1)), start=3):
        with pytest.raises(BusinessRejection) as refused:
            await gateway.capture(payment, payment.captured + more, idempotency_key=f"{order_id}:payment.capture:{n}")
        assert refused.value.code == "payment_intent_unexpected_state"

    # Refunds in parts, each under its own key; a replayed key is not a second refund.
    first = await gateway.refund(first, 1000, idempotency_key=f"{order_id}:payment.refund:1")
    first = await gateway.refund(first, 1500, idempotency_key=f"{order_id}:payment.refund:2")
    first = await gateway.refund(first, 1000, idempotency_key=f"{order_id}:payment.refund:1")
    assert (first.refunded, first.refundable) == (2500, 500)
    second = await gateway.refund(second, 2500, idempotency_key=f"{order_id}:payment.refund:3")
    assert (second.refunded, second.refundable) == (2500, 0)

    # More than what remains is the provider saying no, and changes nothing.
    with pytest.raises(BusinessRejection) as too_much:
        await gateway.refund(first, 501, idempotency_key=f"{order_id}:payment.refund:4")
    assert too_much.value.code == "amount_too_large"
    with pytest.raises(BusinessRejection) as nothing_left:
        await gateway.refund(second, 1, idempotency_key=f"{order_id}:payment.refund:5")
    assert nothing_left.value.code == "charge_already_refunded"
    first = await gateway.refund(first, 500, idempotency_key=f"{order_id}:payment.refund:6")
    assert (first.refunded, first.refundable) == (3000, 0)

    books = (await ledger(order_id))["payment"]
    assert books == {"authorized": 9000, "captured": 5500, "refunded": 5500, "voided": 3500, "currency": "eur"}
    refunds = [e for e in (await ledger(order_id))["effects"] if e["effect"] == "refund"]
    assert [(e["amount"], e["idempotency_key"]) for e in refunds] == [
        (1000, f"{order_id}:payment.refund:1"),
        (1500, f"{order_id}:payment.refund:2"),
        (2500, f"{order_id}:payment.refund:3"),
        (500, f"{order_id}:payment.refund:6"),
    ]


async def test_find_by_order_returns_the_intent_of_each_reference(gateway: StripePaymentGateway, order_id: str) -> None:
    payments = [await authorize(gateway, order_id, n, 1000 + n) for n in range(1, 13)]
    # Twelve intents: more than a search page's default of ten, and the oldest must still be found.
    for n, payment in enumerate(payments, start=1):
        found = await gateway.find_by_order(order_id, reference=authorize_key(order_id, n))
        assert found is not None
        assert (found.payment_id, found.authorized, found.order_id) == (payment.payment_id, 1000 + n, order_id)
    assert await gateway.find_by_order(order_id, reference=authorize_key(order_id, 13)) is None
    assert await gateway.find_by_order(f"{order_id}-other", reference=authorize_key(order_id, 1)) is None


async def test_a_lost_authorization_answer_is_found_among_the_orders_intents(
    gateway: StripePaymentGateway, sandbox: SandboxProcess, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    await authorize(gateway, order_id, 1, 5000)
    await set_faults(
        {
            "upstream": "payment",
            "operation": "authorize",
            "order_prefix": order_id,
            "timeout_after_apply_rate": 1.0,
            "faults_per_request": 1,
        }
    )
    # Shorter than the sandbox's hang: the answer to the second authorization is lost after it was applied.
    async with httpx.AsyncClient(base_url=sandbox.base_url, headers=STRIPE_AUTH, timeout=0.5) as impatient:
        second = await authorize(StripePaymentGateway(impatient), order_id, 2, 4000)
    assert (second.reference, second.authorized) == (authorize_key(order_id, 2), 4000)
    first = await gateway.find_by_order(order_id, reference=authorize_key(order_id, 1))
    assert first is not None and first.authorized == 5000 and first.payment_id != second.payment_id
    authorizations = [e["idempotency_key"] for e in (await ledger(order_id))["effects"] if e["effect"] == "authorize"]
    assert authorizations == [authorize_key(order_id, 1), authorize_key(order_id, 2)]


async def test_a_reversal_asked_again_reports_the_same_void(gateway: StripePaymentGateway, order_id: str) -> None:
    """A worker that dies after a compensation ran, before it was recorded, runs it again; what the customer is
    then told is built from the second answer, so it must be the first one's."""
    await authorize(gateway, order_id, 1, 5000)
    reverse = PaymentActivities(gateway).reverse
    request = ReversePayment(order_id=order_id, n=1)

    first, again = await reverse(request), await reverse(request)

    assert (first.voided, first.refunded) == (5000, 0)
    assert again == first


async def test_a_refund_asked_again_reports_the_same_refund(gateway: StripePaymentGateway, order_id: str) -> None:
    payment = await authorize(gateway, order_id, 1, 5000)
    await gateway.capture(payment, 5000, idempotency_key=f"{order_id}:payment.capture:1")
    reverse = PaymentActivities(gateway).reverse
    request = ReversePayment(order_id=order_id, n=1)

    first, again = await reverse(request), await reverse(request)

    assert (first.voided, first.refunded) == (0, 5000)
    assert again == first
