"""The EasyPost subset the hub's carrier adapter uses: shipments, rates, label purchase and refund, trackers.

JSON in and out, EasyPost error objects ``{"error": {"code", "message", "errors"}}``. The official client
sends the API key as ``Authorization: Bearer <key>``; EasyPost also accepts it as the Basic-auth user name,
so both are accepted here (any non-empty key).

EasyPost has no idempotency keys: the hub makes shipment creation safe by a unique ``reference``
(``{order_id}:…``) and looks the shipment up by it after a timeout. Here a ``reference`` is unique: creating a
shipment with a reference that exists returns that shipment unchanged, and ``GET /v2/shipments/{id}`` accepts
either the id or the reference.

Tracking advances from the purchase time: every ``transit_seconds`` one step of
``pre_transit → in_transit → out_for_delivery → delivered``. Reads compute the status from the clock; a
scheduler task per purchased shipment wakes at each step and pushes a ``tracker.updated`` webhook
(``sandbox.webhooks``). A status forced through the control API overrides it, pushes its own event when the
status changes, and stops the auto-advance and its scheduler; so does a label refund (a voided label never
ships), which pushes nothing since the status stays where it was.

A return shipment (``is_return: true``) is created, as on EasyPost, with the outbound shipment's addresses,
which the sandbox swaps: it goes from the customer back to the warehouse. It is bought, tracked (auto-advance,
forced statuses, ``tracker.updated`` pushes), looked up by reference and refunded like any other; only its
ledger effects differ (``return_label.buy``, ``return_label.void``).

The API's reads (``GET`` shipment, ``GET`` tracker) go through fault injection as operation ``read`` after
authentication; the public label and tracking pages under ``/_sandbox`` are never faulted.
"""

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import READ, FaultEngine, read_key, retry_after_headers
from sandbox.ids import new_id, random_token
from sandbox.ledger import Ledger
from sandbox.webhooks import WebhookDispatcher

AUTO_ADVANCE = ("pre_transit", "in_transit", "out_for_delivery", "delivered")
TrackerStatus = Literal[
    "unknown",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "return_to_sender",
    "failure",
    "cancelled",
    "error",
]
TRACKER_STATUSES = frozenset(get_args(TrackerStatus))
_STATUS_MESSAGES = {
    "pre_transit": "Shipping label created, USPS awaiting item",
    "in_transit": "Departed shipping partner facility",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered, in/at mailbox",
}
# (carrier, service, base price in USD, price per ounce, delivery days): a cheap, a fast and a mid option.
_RATE_CARD = (
    ("USPS", "GroundAdvantage", 5.50, 0.05, 3),
    ("USPS", "Priority", 8.25, 0.07, 2),
    ("UPS", "Ground", 9.10, 0.06, 3),
)
# A 1x1 transparent PNG, so a label_url is downloadable.
LABEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class EasyPostError(Exception):
    """An EasyPost error object plus its HTTP status."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, "errors": errors or []}}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_id_of(reference: str | None) -> str:
    """The hub's order id carried by a shipment reference: the part before the first ``:``."""
    return (reference or "").split(":", 1)[0]


@dataclass
class Shipment:
    """A shipment's state; ``purchased_at`` is monotonic time (drives tracking), ``bought_at`` wall time."""

    id: str
    reference: str | None
    is_return: bool
    to_address: dict[str, Any]
    from_address: dict[str, Any]
    parcel: dict[str, Any]
    options: dict[str, Any]
    rates: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    selected_rate: dict[str, Any] | None = None
    postage_label: dict[str, Any] | None = None
    tracking_code: str | None = None
    tracker_id: str | None = None
    purchased_at: float | None = None
    bought_at: datetime | None = None
    # Once set (by the control API or a label refund) tracking stops advancing; ``history`` is then frozen.
    forced_status: str | None = None
    refund_status: str | None = None
    history: list[tuple[str, datetime]] = field(default_factory=list)
    # The sandbox's base URL as the buyer saw it, for the tracker's ``public_url`` outside a request.
    base_url: str = ""

    @property
    def order_id(self) -> str:
        """The hub's order id, from the reference."""
        return order_id_of(self.reference)

    @property
    def ledger_key(self) -> str:
        """What identifies this shipment's label in the ledger: the reference when there is one."""
        return self.reference or self.id

    def ledger_effect(self, action: Literal["buy", "void"]) -> str:
        """``label.buy`` / ``label.void``, or ``return_label.…`` for a return shipment's label."""
        return f"{'return_label' if self.is_return else 'label'}.{action}"


class EasyPostApi:
    """In-memory shipments and trackers behind EasyPost's wire format (mounted at ``/v2``)."""

    def __init__(
        self, ledger: Ledger, faults: FaultEngine, transit_seconds: float, webhooks: WebhookDispatcher
    ) -> None:
        self._ledger = ledger
        self._faults = faults
        self._transit = transit_seconds
        self._webhooks = webhooks
        self._shipments: dict[str, Shipment] = {}
        self._by_reference: dict[str, str] = {}
        self._by_tracker: dict[str, str] = {}
        self._advancing: dict[str, asyncio.Task[None]] = {}  # shipment id → its auto-advance scheduler

    def routes(self) -> list[Route]:
        """The API routes, relative to the ``/v2`` mount."""
        return [
            Route("/shipments", self._create, methods=["POST"]),
            Route("/shipments/{id}", self._get, methods=["GET"]),
            Route("/shipments/{id}/buy", self._buy, methods=["POST"]),
            Route("/shipments/{id}/refund", self._refund, methods=["POST"]),
            Route("/trackers/{id}", self._get_tracker, methods=["GET"]),
        ]

    def public_routes(self) -> list[Route]:
        """Unauthenticated pages the objects link to (``label_url``, ``public_url``), under ``/_sandbox``."""
        return [
            Route("/labels/{id}.png", self._label, methods=["GET"]),
            Route("/track/{id}", self._public_tracker, methods=["GET"]),
        ]

    # -- lookups used by the control API -----------------------------------------------------------

    def find(self, id_or_reference: str) -> Shipment | None:
        """A shipment by id or by reference."""
        shipment_id = id_or_reference if id_or_reference in self._shipments else None
        shipment_id = shipment_id or self._by_reference.get(id_or_reference)
        return self._shipments.get(shipment_id) if shipment_id else None

    def force_status(self, shipment: Shipment, status: str) -> dict[str, Any]:
        """Force a tracking status (stops the auto-advance); returns the tracker as the API shows it.

        A ``tracker.updated`` webhook is pushed when the status changes (forcing the current one adds a
        tracking detail and pushes nothing).
        """
        if status not in TRACKER_STATUSES:
            raise ValueError(f"unknown tracker status {status!r}")
        now = datetime.now(UTC)
        shipment.history = self._history(shipment)
        previous = shipment.history[-1][0] if shipment.history else "unknown"
        shipment.forced_status = status
        self._stop_advancing(shipment)
        shipment.history.append((status, now))
        shipment.updated_at = now
        tracker = self._tracker_json(shipment, shipment.base_url)
        if status != previous:
            self._webhooks.tracker_updated(tracker)
        return tracker

    async def aclose(self) -> None:
        """Stop every auto-advance scheduler (the app's shutdown)."""
        tasks = list(self._advancing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._advancing.clear()

    # -- auto-advance scheduler --------------------------------------------------------------------

    def _start_advancing(self, shipment: Shipment) -> None:
        task = asyncio.create_task(self._advance(shipment), name=f"advance-{shipment.id}")
        self._advancing[shipment.id] = task
        task.add_done_callback(lambda _: self._advancing.pop(shipment.id, None))

    def _stop_advancing(self, shipment: Shipment) -> None:
        task = self._advancing.pop(shipment.id, None)
        if task is not None:
            task.cancel()

    async def _advance(self, shipment: Shipment) -> None:
        """Wake at each ``transit_seconds`` step after purchase and push the step's tracker, until delivered.

        The pushed tracker is the one of that step even if the loop woke late, so every step is pushed once,
        in order; a forced status or a label refund ends the schedule.
        """
        assert shipment.purchased_at is not None
        for step in range(1, len(AUTO_ADVANCE)):
            delay = shipment.purchased_at + step * self._transit - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if shipment.forced_status is not None:
                return
            self._webhooks.tracker_updated(self._tracker_json(shipment, shipment.base_url, step=step))

    # -- plumbing ----------------------------------------------------------------------------------

    @staticmethod
    def _authenticate(request: Request) -> EasyPostError | None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                credential = base64.b64decode(credential).decode().partition(":")[0]
            except ValueError:
                credential = ""
        elif scheme.lower() != "bearer":
            credential = ""
        if credential.strip():
            return None
        return EasyPostError(401, "APIKEY.REQUIRED", "An API key is required (Bearer or Basic auth).")

    @staticmethod
    def _error(error: EasyPostError, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(error.body, status_code=error.status, headers=headers)

    @staticmethod
    def _transient(status: int) -> JSONResponse:
        code, message = {
            500: ("INTERNAL_SERVER_ERROR", "Something went wrong on our end (sandbox fault)."),
            502: ("BAD_GATEWAY", "The carrier did not answer (sandbox fault)."),
            503: ("SERVICE.UNAVAILABLE", "The service is temporarily unavailable (sandbox fault)."),
            429: ("RATE_LIMITED", "Too many requests (sandbox fault)."),
        }[status]
        return EasyPostApi._error(EasyPostError(status, code, message), retry_after_headers(status))

    async def _read_fault(self, request: Request, order_id: str) -> Response | None:
        """Fault injection for a read: wait the injected latency; the transient failure to answer, if any."""
        key = read_key(request.method, request.url.path, request.query_params.multi_items())
        decision = self._faults.decide("carrier", READ, order_id, key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        return None

    async def _json_body(self, request: Request) -> dict[str, Any]:
        if (denied := self._authenticate(request)) is not None:
            raise denied
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise EasyPostError(400, "BAD_REQUEST", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise EasyPostError(400, "BAD_REQUEST", "The request body must be a JSON object.")
        return body

    def _lookup(self, id_or_reference: str) -> Shipment:
        shipment = self.find(id_or_reference)
        if shipment is None:
            raise EasyPostError(404, "NOT_FOUND", "The requested resource could not be found.")
        return shipment

    # -- tracking ----------------------------------------------------------------------------------

    def _history(self, shipment: Shipment, step: int | None = None) -> list[tuple[str, datetime]]:
        """Statuses reached so far, with their times: auto-advance steps unless a forced status froze it.

        ``step`` asks for the auto-advance history as of that step instead of the clock's.
        """
        if shipment.forced_status is not None or shipment.purchased_at is None or shipment.bought_at is None:
            return list(shipment.history)
        if step is not None:
            steps = step
        elif self._transit <= 0:
            steps = len(AUTO_ADVANCE) - 1
        else:
            elapsed = time.monotonic() - shipment.purchased_at
            steps = min(len(AUTO_ADVANCE) - 1, int(elapsed // self._transit))
        return [(AUTO_ADVANCE[i], shipment.bought_at + timedelta(seconds=i * self._transit)) for i in range(steps + 1)]

    def _status(self, shipment: Shipment) -> str:
        history = self._history(shipment)
        return history[-1][0] if history else "unknown"

    def _tracker_json(self, shipment: Shipment, base_url: str, step: int | None = None) -> dict[str, Any]:
        history = self._history(shipment, step)
        status = history[-1][0] if history else "unknown"
        assert shipment.tracker_id is not None and shipment.bought_at is not None
        last_change = history[-1][1] if history else shipment.bought_at
        return {
            "id": shipment.tracker_id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": shipment.tracking_code,
            "status": status,
            "status_detail": status,
            "carrier": shipment.selected_rate["carrier"] if shipment.selected_rate else None,
            "shipment_id": shipment.id,
            "public_url": f"{base_url}_sandbox/track/{shipment.tracker_id}",
            "est_delivery_date": _iso(shipment.bought_at + timedelta(seconds=3 * self._transit)),
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "status": s,
                    "message": _STATUS_MESSAGES.get(s, s.replace("_", " ").capitalize()),
                    "datetime": _iso(at),
                }
                for s, at in history
            ],
            "created_at": _iso(shipment.bought_at),
            "updated_at": _iso(last_change),
        }

    # -- rendering ---------------------------------------------------------------------------------

    def _shipment_json(self, shipment: Shipment, base_url: str) -> dict[str, Any]:
        bought = shipment.tracker_id is not None
        return {
            "id": shipment.id,
            "object": "Shipment",
            "mode": "test",
            "reference": shipment.reference,
            "is_return": shipment.is_return,
            "status": self._status(shipment) if bought else "unknown",
            "to_address": shipment.to_address,
            "from_address": shipment.from_address,
            "return_address": shipment.from_address,
            "buyer_address": shipment.to_address,
            "parcel": shipment.parcel,
            "options": shipment.options,
            "rates": shipment.rates,
            "selected_rate": shipment.selected_rate,
            "postage_label": shipment.postage_label,
            "tracking_code": shipment.tracking_code,
            "tracker": self._tracker_json(shipment, base_url) if bought else None,
            "refund_status": shipment.refund_status,
            "messages": [],
            "fees": [],
            "created_at": _iso(shipment.created_at),
            "updated_at": _iso(shipment.updated_at),
        }

    @staticmethod
    def _object(value: Any, prefix: str, object_name: str, field_name: str) -> dict[str, Any]:
        if not isinstance(value, dict) or not value:
            raise EasyPostError(
                422,
                "PARAMETER.REQUIRED",
                f"Missing required parameter: shipment.{field_name}",
                [{"field": f"shipment.{field_name}", "message": "cannot be blank"}],
            )
        return {"id": value.get("id") or new_id(prefix, 32), "object": object_name, "mode": "test", **value}

    def _rates(self, shipment_id: str, parcel: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            ounces = float(parcel.get("weight", 16))
        except (TypeError, ValueError):
            raise EasyPostError(
                422,
                "PARAMETER.INVALID",
                "Invalid parcel weight.",
                [{"field": "parcel.weight", "message": "invalid"}],
            ) from None
        rates = []
        for carrier, service, base, per_ounce, days in _RATE_CARD:
            price = f"{base + per_ounce * ounces:.2f}"
            rates.append(
                {
                    "id": new_id("rate", 32),
                    "object": "Rate",
                    "mode": "test",
                    "shipment_id": shipment_id,
                    "carrier": carrier,
                    "carrier_account_id": f"ca_sandbox{carrier.lower()}",
                    "service": service,
                    "rate": price,
                    "currency": "USD",
                    "retail_rate": price,
                    "list_rate": price,
                    "delivery_days": days,
                    "delivery_date_guaranteed": False,
                }
            )
        return rates

    # -- endpoints ---------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        try:
            body = await self._json_body(request)
            params = body.get("shipment")
            if not isinstance(params, dict):
                raise EasyPostError(
                    422,
                    "PARAMETER.REQUIRED",
                    "Missing required parameter: shipment",
                    [{"field": "shipment", "message": "cannot be blank"}],
                )
        except EasyPostError as error:
            return self._error(error)
        reference = params.get("reference")
        reference = str(reference) if reference not in (None, "") else None
        decision = self._faults.decide(
            "carrier",
            "shipment.create",
            order_id_of(reference),
            reference or json.dumps(params, sort_keys=True),
        )
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        existing = self.find(reference) if reference else None
        if existing is not None:  # a retried create: nothing new to apply, so nothing to reject either
            await self._faults.hang(decision)
            return JSONResponse(self._shipment_json(existing, str(request.base_url)), status_code=201)
        if decision.reject is not None:
            self._faults.note("rejected")
            return self._error(EasyPostError(422, "SHIPMENT.INVALID_PARAMS", decision.reject.message))
        try:
            shipment_id = new_id("shp", 32)
            now = datetime.now(UTC)
            parcel = self._object(params.get("parcel"), "prcl", "Parcel", "parcel")
            to_address = self._object(params.get("to_address"), "adr", "Address", "to_address")
            from_address = self._object(params.get("from_address"), "adr", "Address", "from_address")
            is_return = params.get("is_return") in (True, "true")
            if is_return:
                # EasyPost: a return is created with the outbound shipment's addresses and swaps them itself.
                to_address, from_address = from_address, to_address
            shipment = Shipment(
                id=shipment_id,
                reference=reference,
                is_return=is_return,
                to_address=to_address,
                from_address=from_address,
                parcel=parcel,
                options=options if isinstance(options := params.get("options"), dict) else {},
                rates=self._rates(shipment_id, parcel),
                created_at=now,
                updated_at=now,
            )
        except EasyPostError as error:
            return self._error(error)
        self._shipments[shipment.id] = shipment
        if reference:
            self._by_reference[reference] = shipment.id
        await self._faults.hang(decision)
        return JSONResponse(self._shipment_json(shipment, str(request.base_url)), status_code=201)

    async def _get(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return self._error(denied)
        id_or_reference = request.path_params["id"]
        # A reference names its order even before the shipment exists (a lookup after a lost create).
        stored = self.find(id_or_reference)
        if stored is not None:
            order_id = stored.order_id
        else:
            order_id = order_id_of(id_or_reference) if ":" in id_or_reference else ""
        if (fault := await self._read_fault(request, order_id)) is not None:
            return fault
        try:
            shipment = self._lookup(id_or_reference)
        except EasyPostError as error:
            return self._error(error)
        return JSONResponse(self._shipment_json(shipment, str(request.base_url)))

    async def _buy(self, request: Request) -> Response:
        try:
            body = await self._json_body(request)
            shipment = self._lookup(request.path_params["id"])
        except EasyPostError as error:
            return self._error(error)
        decision = self._faults.decide("carrier", "shipment.buy", shipment.order_id, shipment.ledger_key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        rate_param = body.get("rate")
        rate_id = rate_param.get("id") if isinstance(rate_param, dict) else None
        rate = next((r for r in shipment.rates if r["id"] == rate_id), None)
        if shipment.postage_label is not None:
            return self._error(
                EasyPostError(422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
            )
        if rate is None:
            return self._error(
                EasyPostError(
                    422,
                    "SHIPMENT.RATE.INVALID" if rate_id else "PARAMETER.REQUIRED",
                    f"Rate {rate_id!r} does not belong to this shipment." if rate_id else "Missing rate.",
                    [{"field": "rate", "message": "invalid" if rate_id else "cannot be blank"}],
                )
            )
        if decision.reject is not None:
            self._faults.note("rejected")
            return self._error(EasyPostError(422, "SHIPMENT.POSTAGE.FAILURE", decision.reject.message))
        now = datetime.now(UTC)
        shipment.selected_rate = rate
        shipment.tracking_code = f"EZ{random_token(12).upper()}"
        shipment.tracker_id = new_id("trk", 32)
        shipment.purchased_at, shipment.bought_at, shipment.updated_at = time.monotonic(), now, now
        shipment.base_url = str(request.base_url)
        shipment.postage_label = {
            "id": new_id("pl", 32),
            "object": "PostageLabel",
            "label_date": _iso(now),
            "label_file_type": "image/png",
            "label_resolution": 300,
            "label_size": "4x6",
            "label_url": f"{request.base_url}_sandbox/labels/{shipment.id}.png",
        }
        self._by_tracker[shipment.tracker_id] = shipment.id
        self._ledger.record(
            shipment.order_id,
            "carrier",
            shipment.ledger_effect("buy"),
            amount=round(float(rate["rate"]) * 100),
            idempotency_key=shipment.ledger_key,
            ref=shipment.id,
        )
        self._start_advancing(shipment)
        await self._faults.hang(decision)
        return JSONResponse(self._shipment_json(shipment, str(request.base_url)))

    async def _refund(self, request: Request) -> Response:
        try:
            await self._json_body(request)
            shipment = self._lookup(request.path_params["id"])
        except EasyPostError as error:
            return self._error(error)
        decision = self._faults.decide("carrier", "shipment.refund", shipment.order_id, shipment.ledger_key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        if shipment.postage_label is None or shipment.selected_rate is None:
            return self._error(
                EasyPostError(422, "SHIPMENT.REFUND.UNAVAILABLE", "This shipment has no postage to refund.")
            )
        if shipment.refund_status is None:
            if decision.reject is not None:
                self._faults.note("rejected")
                return self._error(EasyPostError(422, "SHIPMENT.REFUND.REJECTED", decision.reject.message))
            now = datetime.now(UTC)
            # A voided label never ships: freeze the tracking where it is.
            shipment.history = self._history(shipment)
            shipment.forced_status = shipment.history[-1][0] if shipment.history else "unknown"
            self._stop_advancing(shipment)
            shipment.refund_status, shipment.updated_at = "submitted", now
            self._ledger.record(
                shipment.order_id,
                "carrier",
                shipment.ledger_effect("void"),
                amount=round(float(shipment.selected_rate["rate"]) * 100),
                idempotency_key=shipment.ledger_key,
                ref=shipment.id,
            )
        await self._faults.hang(decision)
        return JSONResponse(self._shipment_json(shipment, str(request.base_url)))

    async def _get_tracker(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return self._error(denied)
        shipment_id = self._by_tracker.get(request.path_params["id"])
        order_id = self._shipments[shipment_id].order_id if shipment_id else ""
        if (fault := await self._read_fault(request, order_id)) is not None:
            return fault
        return self._tracker_response(request)

    async def _public_tracker(self, request: Request) -> Response:
        return self._tracker_response(request)

    def _tracker_response(self, request: Request) -> Response:
        shipment_id = self._by_tracker.get(request.path_params["id"])
        if shipment_id is None:
            return self._error(EasyPostError(404, "NOT_FOUND", "The requested resource could not be found."))
        return JSONResponse(self._tracker_json(self._shipments[shipment_id], str(request.base_url)))

    async def _label(self, request: Request) -> Response:
        shipment = self._shipments.get(request.path_params["id"])
        if shipment is None or shipment.postage_label is None:
            return Response(status_code=404)
        return Response(LABEL_PNG, media_type="image/png")
