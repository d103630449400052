"""The ERP stock-hold contract (docs/erp-holds-api.md), served under ``/erp``.

Stock per SKU is ``on_hand`` (``--default-stock`` unless set through ``PUT /_sandbox/stock``) minus what
active holds keep. A hold takes what is available line by line and reports the rest as ``short`` with the
SKU's ``restock_date``. Committing a hold removes its units from ``on_hand`` (the goods left the warehouse);
releasing gives them back to availability.

Idempotency is the contract's: the caller names the hold, so a repeated PUT finds it instead of reserving
twice, and release/commit are no-ops when repeated.

Return receipts (``PUT /v1/returns/{receipt_id}``) are idempotent the same way: the caller names the receipt.
Its ``restock`` lines go back on hand; ``damaged`` lines are received but not restocked.

Reads (``GET`` a hold, a return receipt, availability) go through fault injection as operation ``read`` once
the token (and the id's form) is checked.

Webhooks (``sandbox.webhooks``, Standard Webhooks): committing a hold pushes ``shipment.confirmed``; creating a
return receipt pushes ``return.received``; a stock update through the control API that changes a SKU's
availability or restock date pushes ``stock.changed``.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import READ, FaultEngine, read_key, retry_after_headers
from sandbox.ledger import Ledger
from sandbox.webhooks import WebhookDispatcher

HOLD_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
Sku = Annotated[str, Field(min_length=1, max_length=64)]


class HoldLineIn(BaseModel):
    """A requested line of ``PUT /v1/holds/{hold_id}``."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0)]


class HoldIn(BaseModel):
    """Body of ``PUT /v1/holds/{hold_id}``."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1)
    lines: list[HoldLineIn] = Field(min_length=1)


class ReturnLineIn(BaseModel):
    """A returned line of ``PUT /v1/returns/{receipt_id}``: what came back and what inspection found."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0)]
    disposition: Literal["restock", "damaged"]


class ReturnIn(BaseModel):
    """Body of ``PUT /v1/returns/{receipt_id}``."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1)
    lines: list[ReturnLineIn] = Field(min_length=1)


@dataclass
class Receipt:
    """A return receipt: goods received back at the warehouse, each line restocked or written off as damaged."""

    receipt_id: str
    order_id: str
    lines: list[ReturnLineIn]
    received_at: datetime

    @property
    def units(self) -> int:
        """Units received, whatever their disposition."""
        return sum(line.quantity for line in self.lines)

    def same_request(self, body: ReturnIn) -> bool:
        """Whether a repeated PUT reports the same receipt (order and lines, in any line order)."""

        def key(lines: list[ReturnLineIn]) -> list[tuple[str, int, str]]:
            return sorted((line.sku, line.quantity, line.disposition) for line in lines)

        return body.order_id == self.order_id and key(body.lines) == key(self.lines)

    def lines_json(self) -> list[dict[str, Any]]:
        """The lines as the contract shows them."""
        return [line.model_dump() for line in self.lines]

    def to_json(self) -> dict[str, Any]:
        """The contract's Return receipt resource."""
        return {
            "receipt_id": self.receipt_id,
            "order_id": self.order_id,
            "lines": self.lines_json(),
            "received_at": self.received_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass
class HoldLine:
    """One line of a hold as created: what was asked, what is held, what is missing."""

    sku: str
    requested: int
    held: int
    restock_date: date | None
    location: str | None = None

    @property
    def short(self) -> int:
        """Units that could not be held."""
        return self.requested - self.held


@dataclass
class Hold:
    """A stock hold and its lifecycle status (``held``, ``released``, ``committed``)."""

    hold_id: str
    order_id: str
    lines: list[HoldLine]
    status: str = "held"

    @property
    def units(self) -> int:
        """Units actually held across lines."""
        return sum(line.held for line in self.lines)

    def same_request(self, body: HoldIn) -> bool:
        """Whether a repeated PUT asks for the same thing (order and lines, in any line order)."""
        asked = sorted((line.sku, line.quantity) for line in body.lines)
        return body.order_id == self.order_id and asked == sorted((held.sku, held.requested) for held in self.lines)

    def to_json(self) -> dict[str, Any]:
        """The contract's Hold resource."""
        return {
            "hold_id": self.hold_id,
            "order_id": self.order_id,
            "status": self.status,
            "lines": [
                {
                    "sku": line.sku,
                    "requested": line.requested,
                    "held": line.held,
                    "short": line.short,
                    "restock_date": line.restock_date.isoformat() if line.short and line.restock_date else None,
                    "location": line.location,
                }
                for line in self.lines
            ],
        }


class ErpError(Exception):
    """A contract error: ``{"error": {"code", "message"}}`` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        error: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        self.body = {"error": error}


class Stock:
    """On-hand quantities and restock dates per SKU, and the units active holds keep."""

    def __init__(self, default_on_hand: int) -> None:
        self._default = default_on_hand
        self._on_hand: dict[str, int] = {}
        self._restock: dict[str, date | None] = {}
        self._location: dict[str, str | None] = {}
        self._held: dict[str, int] = {}

    def set(self, sku: str, on_hand: int, restock_date: date | None, location: str | None = None) -> None:
        """Set a SKU's on-hand quantity (absolute), restock date and the warehouse that stocks it."""
        self._on_hand[sku] = on_hand
        self._restock[sku] = restock_date
        self._location[sku] = location

    def location(self, sku: str) -> str | None:
        """The warehouse a SKU ships from (``None``: the one default warehouse)."""
        return self._location.get(sku)

    def available(self, sku: str) -> int:
        """What a new hold could take now."""
        return max(0, self._on_hand.get(sku, self._default) - self._held.get(sku, 0))

    def restock_date(self, sku: str) -> date | None:
        """When the ERP expects more of this SKU, if it knows."""
        return self._restock.get(sku)

    def hold(self, sku: str, units: int) -> None:
        """Keep units for a hold."""
        self._held[sku] = self._held.get(sku, 0) + units

    def release(self, sku: str, units: int) -> None:
        """Give held units back to availability."""
        self._held[sku] = self._held.get(sku, 0) - units

    def ship(self, sku: str, units: int) -> None:
        """Held units leave the warehouse: no longer held, no longer on hand."""
        self.release(sku, units)
        self._on_hand[sku] = self._on_hand.get(sku, self._default) - units

    def restock(self, sku: str, units: int) -> None:
        """Returned units in resaleable condition go back on hand."""
        self._on_hand[sku] = self._on_hand.get(sku, self._default) + units

    def availability(self, sku: str) -> dict[str, Any]:
        """One item of ``GET /v1/availability``."""
        restock = self.restock_date(sku)
        return {
            "sku": sku,
            "available": self.available(sku),
            "restock_date": restock.isoformat() if restock else None,
        }


class ErpApi:
    """The hold contract over an in-memory :class:`Stock` (mounted at ``/erp``)."""

    def __init__(self, ledger: Ledger, faults: FaultEngine, default_stock: int, webhooks: WebhookDispatcher) -> None:
        self._ledger = ledger
        self._faults = faults
        self._webhooks = webhooks
        self.stock = Stock(default_stock)
        self._holds: dict[str, Hold] = {}
        self._receipts: dict[str, Receipt] = {}

    def routes(self) -> list[Route]:
        """The contract's routes, relative to the ``/erp`` mount."""
        return [
            Route("/v1/holds/{hold_id}", self._put, methods=["PUT"]),
            Route("/v1/holds/{hold_id}", self._get, methods=["GET"]),
            Route("/v1/holds/{hold_id}/release", self._release, methods=["POST"]),
            Route("/v1/holds/{hold_id}/commit", self._commit, methods=["POST"]),
            Route("/v1/availability", self._availability, methods=["GET"]),
            Route("/v1/returns/{receipt_id}", self._put_return, methods=["PUT"]),
            Route("/v1/returns/{receipt_id}", self._get_return, methods=["GET"]),
        ]

    def set_stock(
        self, sku: str, on_hand: int, restock_date: date | None, location: str | None = None
    ) -> dict[str, Any]:
        """Set a SKU's stock (the control API); push ``stock.changed`` if its availability item changed."""
        before = self.stock.availability(sku)
        self.stock.set(sku, on_hand, restock_date, location)
        after = self.stock.availability(sku)
        if after != before:
            self._webhooks.erp_event("stock.changed", sku, f"{after['available']}:{after['restock_date']}", after)
        return after

    # -- plumbing ----------------------------------------------------------------------------------

    @staticmethod
    def _check(request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ErpError(401, "unauthorized", "A bearer token is required.")
        for name in ("hold_id", "receipt_id"):
            if name in request.path_params:
                resource_id = str(request.path_params[name])
                if not HOLD_ID.fullmatch(resource_id):
                    raise ErpError(422, "invalid_request", f"{name} may contain only [A-Za-z0-9._:-].")
                return resource_id
        return ""

    @staticmethod
    def _error(error: ErpError, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(error.body, status_code=error.status, headers=headers)

    @staticmethod
    def _transient(status: int) -> JSONResponse:
        code = "rate_limited" if status == 429 else "unavailable"
        return ErpApi._error(
            ErpError(status, code, "The ERP is temporarily unavailable (sandbox fault)."),
            retry_after_headers(status),
        )

    async def _read_fault(self, request: Request, order_id: str) -> Response | None:
        """Fault injection for a read: wait the injected latency; the transient failure to answer, if any."""
        key = read_key(request.method, request.url.path, request.query_params.multi_items())
        decision = self._faults.decide("erp", READ, order_id, key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        return None

    def _hold(self, hold_id: str) -> Hold:
        hold = self._holds.get(hold_id)
        if hold is None:
            raise ErpError(404, "not_found", f"hold {hold_id} does not exist")
        return hold

    # -- endpoints ---------------------------------------------------------------------------------

    async def _put(self, request: Request) -> Response:
        try:
            hold_id = self._check(request)
            try:
                body = HoldIn.model_validate_json(await request.body())
            except ValidationError as invalid:
                raise ErpError(
                    422,
                    "invalid_request",
                    "malformed hold request",
                    json.loads(invalid.json(include_url=False)),
                ) from None
        except ErpError as error:
            return self._error(error)
        decision = self._faults.decide("erp", "hold.put", body.order_id, hold_id)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        existing = self._holds.get(hold_id)
        if existing is not None:
            if not existing.same_request(body):
                return self._error(
                    ErpError(409, "hold_mismatch", f"hold {hold_id} exists with other lines or another order")
                )
            await self._faults.hang(decision)
            return JSONResponse(existing.to_json(), status_code=200)
        if decision.reject is not None:
            self._faults.note("rejected")
            return self._error(ErpError(409, decision.reject.code, decision.reject.message))
        lines = []
        for line in body.lines:
            held = min(line.quantity, self.stock.available(line.sku))
            self.stock.hold(line.sku, held)
            restock = self.stock.restock_date(line.sku)
            lines.append(HoldLine(line.sku, line.quantity, held, restock, self.stock.location(line.sku)))
        hold = Hold(hold_id, body.order_id, lines)
        self._holds[hold_id] = hold
        self._ledger.record(hold.order_id, "erp", "reserve", units=hold.units, idempotency_key=hold_id, ref=hold_id)
        await self._faults.hang(decision)
        return JSONResponse(hold.to_json(), status_code=201)

    async def _get(self, request: Request) -> Response:
        try:
            hold_id = self._check(request)
        except ErpError as error:
            return self._error(error)
        # The hub names holds ``{order_id}:…``, so an unknown hold still names its order.
        stored = self._holds.get(hold_id)
        order_id = stored.order_id if stored else (hold_id.split(":", 1)[0] if ":" in hold_id else "")
        if (fault := await self._read_fault(request, order_id)) is not None:
            return fault
        try:
            return JSONResponse(self._hold(hold_id).to_json())
        except ErpError as error:
            return self._error(error)

    async def _transition(self, request: Request, operation: str) -> Response:
        """Release or commit: the target status, the conflicting one, and the stock movement differ."""
        target, conflict, conflict_code = (
            ("released", "committed", "hold_committed")
            if operation == "hold.release"
            else ("committed", "released", "hold_released")
        )
        try:
            hold_id = self._check(request)
        except ErpError as error:
            return self._error(error)
        existing = self._holds.get(hold_id)
        decision = self._faults.decide("erp", operation, existing.order_id if existing else "", hold_id)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        try:
            hold = self._hold(hold_id)
        except ErpError as error:
            return self._error(error)
        if hold.status == conflict:
            return self._error(ErpError(409, conflict_code, f"hold {hold_id} is already {conflict}"))
        if hold.status == "held":
            if decision.reject is not None:
                self._faults.note("rejected")
                return self._error(ErpError(409, decision.reject.code, decision.reject.message))
            for line in hold.lines:
                if operation == "hold.release":
                    self.stock.release(line.sku, line.held)
                else:
                    self.stock.ship(line.sku, line.held)
            hold.status = target
            effect = "release" if operation == "hold.release" else "commit"
            self._ledger.record(hold.order_id, "erp", effect, units=hold.units, idempotency_key=hold_id, ref=hold_id)
            if effect == "commit":
                data = {"order_id": hold.order_id, "hold_id": hold_id}
                self._webhooks.erp_event("shipment.confirmed", hold_id, "committed", data)
        await self._faults.hang(decision)
        return JSONResponse(hold.to_json())

    async def _release(self, request: Request) -> Response:
        return await self._transition(request, "hold.release")

    async def _commit(self, request: Request) -> Response:
        return await self._transition(request, "hold.commit")

    async def _availability(self, request: Request) -> Response:
        try:
            self._check(request)
        except ErpError as error:
            return self._error(error)
        if (fault := await self._read_fault(request, "")) is not None:
            return fault
        skus = request.query_params.getlist("sku")
        if any(not sku or len(sku) > 64 for sku in skus):
            return self._error(ErpError(422, "invalid_request", "a sku is 1 to 64 characters"))
        return JSONResponse({"items": [self.stock.availability(sku) for sku in skus]})

    # -- return receipts ---------------------------------------------------------------------------

    async def _put_return(self, request: Request) -> Response:
        try:
            receipt_id = self._check(request)
            try:
                body = ReturnIn.model_validate_json(await request.body())
            except ValidationError as invalid:
                raise ErpError(
                    422,
                    "invalid_request",
                    "malformed return receipt",
                    json.loads(invalid.json(include_url=False)),
                ) from None
        except ErpError as error:
            return self._error(error)
        decision = self._faults.decide("erp", "return.put", body.order_id, receipt_id)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        existing = self._receipts.get(receipt_id)
        if existing is not None:
            if not existing.same_request(body):
                return self._error(
                    ErpError(
                        409, "receipt_mismatch", f"return receipt {receipt_id} exists with other lines or another order"
                    )
                )
            await self._faults.hang(decision)
            return JSONResponse(existing.to_json(), status_code=200)
        if decision.reject is not None:
            self._faults.note("rejected")
            return self._error(ErpError(409, decision.reject.code, decision.reject.message))
        receipt = Receipt(receipt_id, body.order_id, list(body.lines), datetime.now(UTC))
        self._receipts[receipt_id] = receipt
        for line in receipt.lines:
            if line.disposition == "restock":
                self.stock.restock(line.sku, line.quantity)
        self._ledger.record(
            receipt.order_id, "erp", "return.receive", units=receipt.units, idempotency_key=receipt_id, ref=receipt_id
        )
        data = {"order_id": receipt.order_id, "receipt_id": receipt_id, "lines": receipt.lines_json()}
        self._webhooks.erp_event("return.received", receipt_id, "received", data)
        await self._faults.hang(decision)
        return JSONResponse(receipt.to_json(), status_code=201)

    async def _get_return(self, request: Request) -> Response:
        try:
            receipt_id = self._check(request)
        except ErpError as error:
            return self._error(error)
        # The hub names receipts ``{order_id}:…`` like holds, so an unknown receipt still names its order.
        stored = self._receipts.get(receipt_id)
        order_id = stored.order_id if stored else (receipt_id.split(":", 1)[0] if ":" in receipt_id else "")
        if (fault := await self._read_fault(request, order_id)) is not None:
            return fault
        if stored is None:
            return self._error(ErpError(404, "not_found", f"return receipt {receipt_id} does not exist"))
        return JSONResponse(stored.to_json())
