"""Payment over Stripe's PaymentIntents API with manual capture.

Wire: form-encoded bodies, ``Idempotency-Key`` on every mutation, amounts in the currency's minor unit (the
same integers the hub uses). The client is an ``httpx.AsyncClient`` whose ``base_url`` is Stripe's API root and
whose ``Authorization`` header carries the secret key; ``hub/runtime/upstreams.py`` builds it.

Stripe stores the first result of a key for about 24 hours, even a 500, and its search index can lag by about
a minute. So after an unknown outcome we look the payment up by our own reference first, and only re-send
(with the same key) when it is not there.
"""

from typing import Any
from urllib.parse import quote

import httpx

from connectors.errors import BusinessRejection, IndeterminateError
from connectors.http import get_optional, json_body, reconcile, send
from domain.payment import Payment, ProviderPaymentState

UPSTREAM = "payment"

# Stripe error codes that are the provider saying "no" about this payment, not about our request.
_BUSINESS_CODES = frozenset(
    {
        "card_declined",
        "expired_card",
        "incorrect_cvc",
        "processing_error",
        "authentication_required",
        "charge_expired_for_capture",
        "amount_too_large",
        "charge_already_refunded",
        "payment_intent_unexpected_state",
        "payment_intent_authentication_failure",
    }
)

_STATES = {
    "requires_capture": ProviderPaymentState.AUTHORIZED,
    "succeeded": ProviderPaymentState.CAPTURED,
    "canceled": ProviderPaymentState.VOIDED,
}


def _rejection(response: httpx.Response) -> BusinessRejection | None:
    error = json_body(response).get("error") or {}
    code = error.get("decline_code") or error.get("code")
    if response.status_code == 402 or error.get("type") == "card_error" or code in _BUSINESS_CODES:
        code = code or "card_declined"
        return BusinessRejection(f"payment rejected: {code}", upstream=UPSTREAM, code=code)
    return None


class StripePaymentGateway:
    """``PaymentGateway`` on Stripe (or any service speaking its PaymentIntents wire protocol)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def authorize(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> Payment:
        form = {
            "amount": str(amount),
            "currency": currency.lower(),
            "payment_method": payment_method,
            "payment_method_types[]": "card",
            "capture_method": "manual",
            "confirm": "true",
            "metadata[order_id]": order_id,
            "metadata[hub_reference]": idempotency_key,
        }

        async def attempt() -> Payment:
            body = await self._post("/v1/payment_intents", form, idempotency_key)
            return await self._payment(body)

        payment = await reconcile(attempt, lambda: self.find_by_order(order_id, reference=idempotency_key))
        if payment.state is ProviderPaymentState.FAILED:
            # Found by lookup after a lost answer: the intent exists but was not authorized.
            raise BusinessRejection("payment was not authorized", upstream=UPSTREAM, code="card_declined")
        return payment

    async def capture(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        async def attempt() -> Payment:
            path = f"/v1/payment_intents/{payment.payment_id}/capture"
            return await self._payment(await self._post(path, {"amount_to_capture": str(amount)}, idempotency_key))

        async def lookup() -> Payment | None:
            current = await self._retrieve(payment.payment_id)
            return current if current.captured >= amount else None

        return await self._settle(attempt, lookup)

    async def void(self, payment: Payment, *, idempotency_key: str) -> Payment:
        async def attempt() -> Payment:
            path = f"/v1/payment_intents/{payment.payment_id}/cancel"
            return await self._payment(await self._post(path, {}, idempotency_key))

        async def lookup() -> Payment | None:
            current = await self._retrieve(payment.payment_id)
            return current if current.state is ProviderPaymentState.VOIDED else None

        return await self._settle(attempt, lookup)

    async def refund(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        form = {
            "payment_intent": payment.payment_id,
            "amount": str(amount),
            "metadata[order_id]": payment.order_id,
            "metadata[hub_reference]": idempotency_key,
        }

        async def attempt() -> Payment:
            await self._post("/v1/refunds", form, idempotency_key)
            return await self._retrieve(payment.payment_id)

        async def lookup() -> Payment | None:
            refunds = await self._refunds(payment.payment_id)
            if any(r.get("metadata", {}).get("hub_reference") == idempotency_key for r in refunds):
                return await self._retrieve(payment.payment_id)
            return None

        return await self._settle(attempt, lookup)

    async def find_by_order(self, order_id: str, *, reference: str) -> Payment | None:
        query = f"metadata['order_id']:'{order_id}'"
        # An order may have several intents (one per authorization key, declined attempts included): ask for
        # Stripe's maximum page rather than its default 10, newest first, so an older one is not cut off.
        params = {"query": query, "limit": "100"}
        response = await send(
            lambda: self._http.get("/v1/payment_intents/search", params=params),
            upstream=UPSTREAM,
            mutation=False,
        )
        for intent in json_body(response).get("data", []):
            if intent.get("metadata", {}).get("hub_reference") == reference:
                return await self._payment(intent)
        return None

    async def order_of(self, payment_id: str) -> str | None:
        """The order a payment belongs to (our ``metadata[order_id]``): how a dispute webhook finds its order."""
        response = await get_optional(
            self._http, f"/v1/payment_intents/{quote(payment_id, safe='')}", upstream=UPSTREAM
        )
        order_id = json_body(response).get("metadata", {}).get("order_id") if response else None
        return str(order_id) if order_id else None

    async def _settle(self, attempt: Any, lookup: Any) -> Payment:
        """Run a mutation on an existing intent. Stripe answers ``payment_intent_unexpected_state`` when the
        intent is already where we want it (a repeat whose key was pruned): the lookup tells which."""
        try:
            result: Payment = await reconcile(attempt, lookup)
            return result
        except BusinessRejection as rejection:
            if rejection.code != "payment_intent_unexpected_state":
                raise
            done: Payment | None = await lookup()
            if done is None:
                raise
            return done

    async def _post(self, path: str, form: dict[str, str], idempotency_key: str) -> dict[str, Any]:
        response = await send(
            lambda: self._http.post(path, data=form, headers={"Idempotency-Key": idempotency_key}),
            upstream=UPSTREAM,
            mutation=True,
            vendor=_rejection,
        )
        return json_body(response)

    async def _retrieve(self, payment_id: str) -> Payment:
        response = await send(
            lambda: self._http.get(f"/v1/payment_intents/{quote(payment_id, safe='')}"),
            upstream=UPSTREAM,
            mutation=False,
        )
        return await self._payment(json_body(response))

    async def _refunds(self, payment_id: str) -> list[dict[str, Any]]:
        response = await send(
            lambda: self._http.get("/v1/refunds", params={"payment_intent": payment_id, "limit": "100"}),
            upstream=UPSTREAM,
            mutation=False,
        )
        data: list[dict[str, Any]] = json_body(response).get("data", [])
        return data

    async def _payment(self, intent: dict[str, Any]) -> Payment:
        if "id" not in intent:
            raise IndeterminateError("payment: answer without an intent", upstream=UPSTREAM)
        state = _STATES.get(intent.get("status", ""), ProviderPaymentState.FAILED)
        captured = int(intent.get("amount_received") or 0)
        refunded = 0
        if captured:
            refunded = sum(
                int(r.get("amount", 0))
                for r in await self._refunds(intent["id"])
                if r.get("status") in ("succeeded", "pending")
            )
        return Payment(
            payment_id=intent["id"],
            order_id=intent.get("metadata", {}).get("order_id", ""),
            reference=intent.get("metadata", {}).get("hub_reference", ""),
            state=state,
            currency=str(intent.get("currency", "")).upper(),
            authorized=int(intent.get("amount") or 0),
            captured=captured,
            refunded=refunded,
        )
