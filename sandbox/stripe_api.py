"""The Stripe subset the hub's payment adapter uses: PaymentIntents (manual capture) and Refunds.

Wire details follow Stripe so the official client works unmodified: form-encoded bodies with bracket notation
(``metadata[order_id]=A-1``), JSON answers shaped like Stripe objects, Stripe error objects with the HTTP
statuses the client maps to its exception classes (402 → ``CardError``, 400/404 → ``InvalidRequestError``,
400 + ``idempotency_error`` → ``IdempotencyError``), and Stripe's idempotency semantics: the first response
to an ``Idempotency-Key`` is stored and replayed (``Idempotent-Replayed: true``); the same key with other
parameters is a 400 ``idempotency_error``. As with Stripe, nothing is stored when the request failed before
executing (parameter validation, an injected transient failure), so a retry with the same key can succeed.
Reads (retrieve, search, list) go through fault injection as operation ``read`` after authentication.

Webhooks (``sandbox.webhooks``): a new refund pushes ``refund.updated`` (status ``succeeded``); a dispute
opened through the control API (``open_dispute``) pushes ``charge.dispute.created``.
"""

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import READ, Decision, FaultEngine, RejectSpec, read_key, retry_after_headers
from sandbox.ids import new_id, random_token
from sandbox.ledger import Ledger
from sandbox.webhooks import WebhookDispatcher

# Stripe's test payment methods: the successful cards, and the ones that decline with a given decline_code.
SUCCEEDING_METHODS = frozenset({"pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_visa_debit"})
DECLINING_METHODS: dict[str, str] = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedFraudulent": "fraudulent",
    "pm_card_chargeDeclinedLostCard": "lost_card",
    "pm_card_chargeDeclinedStolenCard": "stolen_card",
}
CANCELABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"})


class StripeError(Exception):
    """A Stripe error object plus its HTTP status.

    ``stored`` says whether the answer is kept for the idempotency key: Stripe keeps the outcome of a request
    that started executing (a decline, a state conflict), not of one that failed validation.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        stored: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.stored = stored
        self.body: dict[str, Any] = {
            "error": {
                "type": type_,
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "param": param,
                "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}" if code else None,
                **(extra or {}),
            }
        }


def parse_form(body: bytes) -> dict[str, Any]:
    """Decode a Stripe form body into nested dicts: ``metadata[k]=v`` → ``{"metadata": {"k": "v"}}``.

    Indexed keys (``expand[0]=a``) and appended ones (``payment_method_types[]=card``) become lists. Values
    stay strings, as on the wire.
    """
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body.decode(), keep_blank_values=True):
        head, _, rest = raw_key.partition("[")
        parts = [head] + (re.findall(r"([^\[\]]*)\]", "[" + rest) if rest else [])
        node = root
        for position, part in enumerate(parts):
            if part == "" and position > 0:
                part = str(len(node))  # ``key[]=v`` appends
            if position == len(parts) - 1:
                node[part] = value
                break
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeError(400, "invalid_request_error", f"Invalid parameter: {raw_key}", stored=False)
            node = child
    return _lists(root)


def _lists(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            value = _lists(value)
            if value and all(k.isdigit() for k in value):
                value = [value[k] for k in sorted(value, key=int)]
        out[key] = value
    return out


def _positive_int(params: dict[str, Any], name: str, *, required: bool) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Missing required param: {name}.",
                code="parameter_missing",
                param=name,
                stored=False,
            )
        return None
    if not isinstance(raw, str) or not raw.isdigit() or int(raw) <= 0:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Invalid positive integer: {name}",
            code="parameter_invalid_integer",
            param=name,
            stored=False,
        )
    return int(raw)


def _string_map(params: dict[str, Any], name: str) -> dict[str, str]:
    value = params.get(name) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StripeError(
            400,
            "invalid_request_error",
            f"Invalid hash: {name}",
            code="parameter_invalid",
            param=name,
            stored=False,
        )
    return {k: v for k, v in value.items() if v != ""}  # Stripe: an empty value unsets the key


@dataclass
class PaymentIntent:
    """A PaymentIntent's state; ``to_json`` renders the Stripe object."""

    id: str
    amount: int
    currency: str
    capture_method: str
    payment_method: str | None
    metadata: dict[str, str]
    description: str | None
    created: int
    seq: int
    status: str = "requires_payment_method"
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0  # not a PaymentIntent field; kept to bound refunds
    latest_charge: str | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    last_payment_error: dict[str, Any] | None = None
    client_secret: str = field(default="")

    @property
    def order_id(self) -> str:
        """The hub's order id, from ``metadata[order_id]``."""
        return self.metadata.get("order_id", "")

    def to_json(self) -> dict[str, Any]:
        """The Stripe ``payment_intent`` object."""
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "application": None,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "next_action": None,
            "payment_method": self.payment_method,
            "payment_method_types": ["card"],
            "status": self.status,
        }


@dataclass
class Refund:
    """A refund's state; ``to_json`` renders the Stripe object."""

    id: str
    amount: int
    currency: str
    payment_intent: str
    charge: str | None
    metadata: dict[str, str]
    reason: str | None
    created: int
    seq: int

    def to_json(self) -> dict[str, Any]:
        """The Stripe ``refund`` object."""
        return {
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "metadata": dict(self.metadata),
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "status": "succeeded",
        }


@dataclass(frozen=True)
class _Stored:
    """The first response to an idempotency key and the request it answered."""

    fingerprint: str
    status: int
    body: dict[str, Any]


# One clause of a search query: metadata['key']:'value' or field:'value'.
_CLAUSE = re.compile(
    r"""^\s*(?:metadata\[(?P<q1>['"])(?P<mkey>[^'"]+)(?P=q1)\]|(?P<field>[a-z_]+))"""
    r"""\s*:\s*(?P<q2>['"]?)(?P<value>[^'"]*)(?P=q2)\s*$"""
)
_SEARCHABLE_FIELDS = ("status", "currency", "amount", "capture_method")


def _queried_order(query: str) -> str:
    """The order id a search query asks for (its ``metadata['order_id']:'…'`` clause), else ``""``."""
    for clause in re.split(r"\s+AND\s+", query.strip()):
        match = _CLAUSE.match(clause)
        if match is not None and match.group("mkey") == "order_id":
            return match.group("value")
    return ""


@dataclass(frozen=True)
class _Call:
    """What an apply step needs from the request context: the injected rejection and the idempotency key."""

    reject: RejectSpec | None
    idempotency_key: str | None


Apply = Callable[[_Call], tuple[int, dict[str, Any]]]


class StripeApi:
    """In-memory PaymentIntents and Refunds behind Stripe's wire format (mounted at ``/v1``)."""

    def __init__(self, ledger: Ledger, faults: FaultEngine, webhooks: WebhookDispatcher) -> None:
        self._ledger = ledger
        self._faults = faults
        self._webhooks = webhooks
        self._disputes: dict[str, dict[str, Any]] = {}  # pi_… → its dispute (Stripe allows one per charge)
        self._intents: dict[str, PaymentIntent] = {}
        self._charges: dict[str, str] = {}  # ch_… → pi_…
        self._refunds: dict[str, Refund] = {}
        self._idempotency: dict[str, _Stored] = {}
        self._seq = 0

    def routes(self) -> list[Route]:
        """The routes, relative to the ``/v1`` mount (search before ``{id}`` so it is not taken for an id)."""
        return [
            Route("/payment_intents", self._create_intent, methods=["POST"]),
            Route("/payment_intents/search", self._search_intents, methods=["GET"]),
            Route("/payment_intents/{id}", self._get_intent, methods=["GET"]),
            Route("/payment_intents/{id}/capture", self._capture_intent, methods=["POST"]),
            Route("/payment_intents/{id}/cancel", self._cancel_intent, methods=["POST"]),
            Route("/refunds", self._create_refund, methods=["POST"]),
            Route("/refunds", self._list_refunds, methods=["GET"]),
            Route("/refunds/{id}", self._get_refund, methods=["GET"]),
        ]

    # -- plumbing ----------------------------------------------------------------------------------

    @staticmethod
    def _authenticate(request: Request) -> StripeError | None:
        """Stripe accepts the secret key as a Bearer token or as the Basic-auth user name."""
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                credential = base64.b64decode(credential).decode().partition(":")[0]
            except ValueError:
                credential = ""
        elif scheme.lower() != "bearer":
            credential = ""
        if credential.startswith("sk_test_"):
            return None
        return StripeError(
            401,
            "authentication_error",
            "Invalid API Key provided. The sandbox accepts any key starting with sk_test_.",
            stored=False,
        )

    @staticmethod
    def _respond(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers={"Request-Id": new_id("req", 14), **(headers or {})})

    def _error(self, error: StripeError, headers: dict[str, str] | None = None) -> JSONResponse:
        return self._respond(error.status, error.body, headers)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _read(self, request: Request) -> dict[str, Any]:
        if (denied := self._authenticate(request)) is not None:
            raise denied
        return parse_form(await request.body())

    async def _mutate(
        self, request: Request, operation: str, order_id: str, params: dict[str, Any], apply: Apply
    ) -> Response:
        """Run a mutating call through fault injection and Stripe's idempotency layer."""
        key = request.headers.get("idempotency-key")
        fault_key = key or f"{request.url.path}:{json.dumps(params, sort_keys=True)}"
        decision: Decision = self._faults.decide("payment", operation, order_id, fault_key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        fingerprint = f"{request.method} {request.url.path} {json.dumps(params, sort_keys=True)}"
        echo = {"Idempotency-Key": key} if key else {}
        stored = self._idempotency.get(key) if key else None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return self._error(
                    StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{key}' if you meant to execute a "
                        "different request.",
                        stored=False,
                    ),
                    echo,
                )
            await self._faults.hang(decision)
            return self._respond(stored.status, stored.body, {**echo, "Idempotent-Replayed": "true"})
        try:
            status, body = apply(_Call(decision.reject, key))
            keep = True
        except StripeError as error:
            status, body, keep = error.status, error.body, error.stored
        if key and keep:
            self._idempotency[key] = _Stored(fingerprint, status, body)
        await self._faults.hang(decision)
        return self._respond(status, body, echo)

    async def _read_fault(self, request: Request, order_id: str) -> Response | None:
        """Fault injection for a read: wait the injected latency; the transient failure to answer, if any."""
        key = read_key(request.method, request.url.path, request.query_params.multi_items())
        decision = self._faults.decide("payment", READ, order_id, key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        return None

    def _intent_order(self, intent_id: str | None) -> str:
        """The order of a stored intent; ``""`` for an unknown one."""
        intent = self._intents.get(intent_id or "")
        return intent.order_id if intent else ""

    def _transient(self, status: int) -> JSONResponse:
        if status == 429:
            error = StripeError(
                429,
                "invalid_request_error",
                "Too many requests hit the API too quickly (sandbox fault).",
                code="rate_limit",
                stored=False,
            )
        else:
            error = StripeError(status, "api_error", "An unexpected error occurred (sandbox fault).", stored=False)
        return self._error(error, retry_after_headers(status))

    def _intent(self, intent_id: str, param: str | None = None) -> PaymentIntent:
        intent = self._intents.get(intent_id)
        if intent is None:
            raise StripeError(
                404,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param=param or "intent",
                stored=False,
            )
        return intent

    # -- PaymentIntents ----------------------------------------------------------------------------

    async def _create_intent(self, request: Request) -> Response:
        try:
            params = await self._read(request)
            metadata = _string_map(params, "metadata")
        except StripeError as error:
            return self._error(error)
        return await self._mutate(
            request,
            "authorize",
            metadata.get("order_id", ""),
            params,
            lambda call: self._apply_create(params, call),
        )

    def _apply_create(self, params: dict[str, Any], call: _Call) -> tuple[int, dict[str, Any]]:
        amount = _positive_int(params, "amount", required=True)
        assert amount is not None
        currency = params.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[a-zA-Z]{3}", currency):
            raise StripeError(
                400,
                "invalid_request_error",
                "Missing required param: currency.",
                code="parameter_missing",
                param="currency",
                stored=False,
            )
        capture_method = params.get("capture_method", "automatic")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise StripeError(
                400,
                "invalid_request_error",
                f"Invalid capture_method: {capture_method}",
                code="parameter_invalid",
                param="capture_method",
                stored=False,
            )
        method = params.get("payment_method")
        if method is not None and (
            not isinstance(method, str) or (method not in SUCCEEDING_METHODS and method not in DECLINING_METHODS)
        ):
            raise StripeError(
                400,
                "invalid_request_error",
                f"No such PaymentMethod: '{method}'",
                code="resource_missing",
                param="payment_method",
                stored=False,
            )
        description = params.get("description")
        now = int(time.time())
        intent = PaymentIntent(
            id=new_id("pi"),
            amount=amount,
            currency=currency.lower(),
            capture_method=str(capture_method),
            payment_method=method,
            metadata=_string_map(params, "metadata"),
            description=description if isinstance(description, str) else None,
            created=now,
            seq=self._next_seq(),
        )
        intent.client_secret = f"{intent.id}_secret_{random_token(25)}"
        self._intents[intent.id] = intent
        confirm = params.get("confirm") == "true"
        if method is None or not confirm:
            intent.status = "requires_payment_method" if method is None else "requires_confirmation"
            return 200, intent.to_json()
        decline: tuple[str, str | None, str] | None = None
        if method in DECLINING_METHODS:
            decline = ("card_declined", DECLINING_METHODS[method], "Your card was declined.")
        elif call.reject is not None:
            self._faults.note("rejected")
            decline = (call.reject.code, call.reject.decline_code, call.reject.message)
        charge = new_id("ch")
        self._charges[charge] = intent.id
        intent.latest_charge = charge
        if decline is not None:
            code, decline_code, message = decline
            intent.status = "requires_payment_method"
            intent.last_payment_error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "charge": charge,
            }
            raise StripeError(
                402,
                "card_error",
                message,
                code=code,
                decline_code=decline_code,
                extra={"charge": charge, "payment_intent": intent.to_json()},
            )
        key = call.idempotency_key
        self._ledger.record(
            intent.order_id,
            "payment",
            "authorize",
            amount=amount,
            idempotency_key=key,
            ref=intent.id,
            currency=intent.currency,
        )
        if intent.capture_method == "manual":
            intent.status = "requires_capture"
            intent.amount_capturable = amount
        else:
            intent.status = "succeeded"
            intent.amount_received = amount
            self._ledger.record(
                intent.order_id, "payment", "capture", amount=amount, idempotency_key=key, ref=intent.id
            )
        return 200, intent.to_json()

    async def _get_intent(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return self._error(denied)
        intent_id = request.path_params["id"]
        if (fault := await self._read_fault(request, self._intent_order(intent_id))) is not None:
            return fault
        try:
            return self._respond(200, self._intent(intent_id).to_json())
        except StripeError as error:
            return self._error(error)

    async def _search_intents(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return self._error(denied)
        query = request.query_params.get("query", "")
        if (fault := await self._read_fault(request, _queried_order(query))) is not None:
            return fault
        try:
            predicate = self._parse_query(query)
        except StripeError as error:
            return self._error(error)
        found = sorted((i for i in self._intents.values() if predicate(i)), key=lambda i: -i.seq)
        raw_limit = request.query_params.get("limit", "10")
        limit = int(raw_limit) if raw_limit.isdigit() and 0 < int(raw_limit) <= 100 else 10
        return self._respond(
            200,
            {
                "object": "search_result",
                "data": [i.to_json() for i in found[:limit]],
                "has_more": len(found) > limit,
                "next_page": None,
                "url": "/v1/payment_intents/search",
            },
        )

    @staticmethod
    def _parse_query(query: str) -> Callable[[PaymentIntent], bool]:
        """Stripe search-query subset: clauses ``metadata['k']:'v'`` or ``status:'v'`` joined with AND."""
        if not query.strip():
            raise StripeError(
                400,
                "invalid_request_error",
                "Missing required param: query.",
                code="parameter_missing",
                param="query",
                stored=False,
            )
        clauses: list[tuple[str | None, str | None, str]] = []  # (metadata key | None, field | None, value)
        for clause in re.split(r"\s+AND\s+", query.strip()):
            match = _CLAUSE.match(clause)
            field_name = match.group("field") if match else None
            if match is None or (field_name is not None and field_name not in _SEARCHABLE_FIELDS):
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"The sandbox does not support this search query clause: {clause!r}",
                    code="parameter_invalid_string",
                    param="query",
                    stored=False,
                )
            clauses.append((match.group("mkey"), field_name, match.group("value")))

        def matches(intent: PaymentIntent) -> bool:
            rendered = intent.to_json()
            return all(
                (intent.metadata.get(mkey) if mkey is not None else str(rendered[str(name)])) == value
                for mkey, name, value in clauses
            )

        return matches

    async def _capture_intent(self, request: Request) -> Response:
        return await self._act_on_intent(request, "capture", self._apply_capture)

    async def _act_on_intent(
        self,
        request: Request,
        operation: str,
        apply: Callable[[str, dict[str, Any], _Call], tuple[int, dict[str, Any]]],
    ) -> Response:
        """A mutation of an existing intent (capture, cancel): faults and idempotency by the intent's order."""
        try:
            params = await self._read(request)
        except StripeError as error:
            return self._error(error)
        intent_id = request.path_params["id"]
        intent = self._intents.get(intent_id)
        return await self._mutate(
            request, operation, intent.order_id if intent else "", params, lambda call: apply(intent_id, params, call)
        )

    def _apply_capture(self, intent_id: str, params: dict[str, Any], call: _Call) -> tuple[int, dict[str, Any]]:
        intent = self._intent(intent_id)
        requested = _positive_int(params, "amount_to_capture", required=False)
        if intent.status != "requires_capture":
            raise StripeError(
                400,
                "invalid_request_error",
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses may be captured: "
                "requires_capture.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": intent.to_json()},
            )
        amount = intent.amount_capturable if requested is None else requested
        if amount > intent.amount_capturable:
            raise StripeError(
                400,
                "invalid_request_error",
                f"The amount to capture ({amount}) is greater than the amount capturable ({intent.amount_capturable}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        if call.reject is not None:
            self._faults.note("rejected")
            raise StripeError(400, "invalid_request_error", call.reject.message, code=call.reject.code)
        released = intent.amount_capturable - amount
        intent.status = "succeeded"
        intent.amount_received = amount
        intent.amount_capturable = 0
        key = call.idempotency_key
        self._ledger.record(intent.order_id, "payment", "capture", amount=amount, idempotency_key=key, ref=intent.id)
        if released:
            # Stripe releases the uncaptured rest of the authorization: the money was never taken.
            self._ledger.record(intent.order_id, "payment", "void", amount=released, idempotency_key=key, ref=intent.id)
        return 200, intent.to_json()

    async def _cancel_intent(self, request: Request) -> Response:
        return await self._act_on_intent(request, "cancel", self._apply_cancel)

    def _apply_cancel(self, intent_id: str, params: dict[str, Any], call: _Call) -> tuple[int, dict[str, Any]]:
        intent = self._intent(intent_id)
        if intent.status not in CANCELABLE:
            raise StripeError(
                400,
                "invalid_request_error",
                f"You cannot cancel this PaymentIntent because it has a status of {intent.status}. Only a "
                "PaymentIntent with one of the following statuses may be canceled: "
                + ", ".join(sorted(CANCELABLE))
                + ".",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": intent.to_json()},
            )
        if call.reject is not None:
            self._faults.note("rejected")
            raise StripeError(400, "invalid_request_error", call.reject.message, code=call.reject.code)
        released = intent.amount_capturable
        intent.status = "canceled"
        intent.amount_capturable = 0
        intent.canceled_at = int(time.time())
        reason = params.get("cancellation_reason")
        intent.cancellation_reason = reason if isinstance(reason, str) else None
        if released:
            self._ledger.record(
                intent.order_id,
                "payment",
                "void",
                amount=released,
                idempotency_key=call.idempotency_key,
                ref=intent.id,
            )
        return 200, intent.to_json()

    # -- Refunds -----------------------------------------------------------------------------------

    def _refund_target(self, params: dict[str, Any]) -> PaymentIntent:
        intent_id = params.get("payment_intent")
        charge = params.get("charge")
        if isinstance(charge, str) and not intent_id:
            if charge not in self._charges:
                raise StripeError(
                    404,
                    "invalid_request_error",
                    f"No such charge: '{charge}'",
                    code="resource_missing",
                    param="charge",
                    stored=False,
                )
            intent_id = self._charges[charge]
        if not isinstance(intent_id, str) or not intent_id:
            raise StripeError(
                400,
                "invalid_request_error",
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
                stored=False,
            )
        return self._intent(intent_id, param="payment_intent")

    async def _create_refund(self, request: Request) -> Response:
        try:
            params = await self._read(request)
        except StripeError as error:
            return self._error(error)
        try:
            order_id = self._refund_target(params).order_id
        except StripeError:
            order_id = ""  # the apply step answers the missing target; faults only need an order id
        return await self._mutate(request, "refund", order_id, params, lambda call: self._apply_refund(params, call))

    def _apply_refund(self, params: dict[str, Any], call: _Call) -> tuple[int, dict[str, Any]]:
        intent = self._refund_target(params)
        requested = _positive_int(params, "amount", required=False)
        metadata = _string_map(params, "metadata")
        if intent.status != "succeeded":
            raise StripeError(
                400,
                "invalid_request_error",
                f"This PaymentIntent has a status of {intent.status}; only a succeeded PaymentIntent can be "
                "refunded (cancel it to release an uncaptured authorization).",
                code="payment_intent_unexpected_state",
                param="payment_intent",
            )
        remaining = intent.amount_received - intent.amount_refunded
        if remaining <= 0:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Charge {intent.latest_charge} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining if requested is None else requested
        if amount > remaining:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining}).",
                code="amount_too_large",
                param="amount",
            )
        if call.reject is not None:
            self._faults.note("rejected")
            raise StripeError(400, "invalid_request_error", call.reject.message, code=call.reject.code)
        reason = params.get("reason")
        refund = Refund(
            id=new_id("re"),
            amount=amount,
            currency=intent.currency,
            payment_intent=intent.id,
            charge=intent.latest_charge,
            metadata=metadata,
            reason=reason if isinstance(reason, str) else None,
            created=int(time.time()),
            seq=self._next_seq(),
        )
        self._refunds[refund.id] = refund
        intent.amount_refunded += amount
        self._ledger.record(
            intent.order_id,
            "payment",
            "refund",
            amount=amount,
            idempotency_key=call.idempotency_key,
            ref=refund.id,
        )
        self._webhooks.stripe_event("refund.updated", refund.to_json())
        return 200, refund.to_json()

    async def _list_refunds(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return self._error(denied)
        intent_id = request.query_params.get("payment_intent")
        if (fault := await self._read_fault(request, self._intent_order(intent_id))) is not None:
            return fault
        found = sorted(
            (r for r in self._refunds.values() if intent_id is None or r.payment_intent == intent_id),
            key=lambda r: -r.seq,
        )
        return self._respond(
            200,
            {"object": "list", "data": [r.to_json() for r in found], "has_more": False, "url": "/v1/refunds"},
        )

    async def _get_refund(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return self._error(denied)
        refund = self._refunds.get(request.path_params["id"])
        order_id = self._intent_order(refund.payment_intent) if refund else ""
        if (fault := await self._read_fault(request, order_id)) is not None:
            return fault
        if refund is None:
            return self._error(
                StripeError(
                    404,
                    "invalid_request_error",
                    f"No such refund: '{request.path_params['id']}'",
                    code="resource_missing",
                    param="id",
                    stored=False,
                )
            )
        return self._respond(200, refund.to_json())

    # -- Disputes (control API only) ---------------------------------------------------------------

    def open_dispute(self, intent_id: str, reason: str) -> tuple[int, dict[str, Any]]:
        """The cardholder disputes the intent's charge: 201 and a ``charge.dispute.created`` push.

        A second dispute of the same intent answers the first one (200) and pushes nothing. Raises
        ``KeyError`` for an unknown intent and ``ValueError`` for one with nothing captured.
        """
        existing = self._disputes.get(intent_id)
        if existing is not None:
            return 200, dict(existing)
        intent = self._intents.get(intent_id)
        if intent is None:
            raise KeyError(intent_id)
        if intent.status != "succeeded" or intent.amount_received <= 0:
            raise ValueError(f"payment intent {intent_id} has status {intent.status}: no captured charge to dispute")
        dispute = {
            "id": new_id("du"),
            "object": "dispute",
            "amount": intent.amount_received,
            "charge": intent.latest_charge,
            "created": int(time.time()),
            "currency": intent.currency,
            "livemode": False,
            "metadata": {},
            "payment_intent": intent.id,
            "reason": reason,
            "status": "needs_response",
        }
        self._disputes[intent_id] = dispute
        self._webhooks.stripe_event("charge.dispute.created", dict(dispute))
        return 201, dict(dispute)
