"""Control and inspection endpoints under ``/_sandbox``: set stock, fault rules and webhook endpoints, open
disputes, force tracking statuses, read the ledger, the mail and the statistics.

These are the test harness's levers, not an upstream's API: no auth, plain JSON, and 422 with pydantic's
error list on a malformed body.
"""

import json
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.easypost_api import EasyPostApi, TrackerStatus
from sandbox.erp_api import ErpApi
from sandbox.faults import FaultEngine, FaultSettings
from sandbox.ledger import Ledger
from sandbox.mail import Mailbox
from sandbox.stripe_api import StripeApi
from sandbox.twilio_api import TwilioApi
from sandbox.webhooks import WebhookDispatcher, WebhookSettings

Model = TypeVar("Model", bound=BaseModel)


class StockItem(BaseModel):
    """A SKU's on-hand quantity (absolute) and its expected restock date."""

    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, Field(min_length=1, max_length=64)]
    on_hand: Annotated[int, Field(ge=0)]
    restock_date: date | None = None
    location: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """The warehouse that stocks the SKU; lines held in different warehouses ship as separate parcels."""


class StockUpdate(BaseModel):
    """Body of ``PUT /_sandbox/stock``."""

    model_config = ConfigDict(extra="forbid")

    items: list[StockItem] = Field(min_length=1)


class CarrierStatus(BaseModel):
    """Body of ``POST /_sandbox/carrier/{id}/status``."""

    model_config = ConfigDict(extra="forbid")

    status: TrackerStatus


class DisputeIn(BaseModel):
    """Body of ``POST /_sandbox/payment/{payment_intent_id}/dispute``: Stripe's dispute reasons."""

    model_config = ConfigDict(extra="forbid")

    reason: Literal[
        "bank_cannot_process",
        "check_returned",
        "credit_not_processed",
        "customer_initiated",
        "debited_twice",
        "duplicate",
        "fraudulent",
        "general",
        "incorrect_account_details",
        "insufficient_funds",
        "product_not_received",
        "product_unacceptable",
        "subscription_canceled",
        "unrecognized",
    ] = "general"


class InvalidBody(Exception):
    """A control body that does not validate; rendered as 422."""

    def __init__(self, details: Any) -> None:
        super().__init__("invalid request body")
        self.details = details


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status)


async def _parse(request: Request, model: type[Model]) -> Model:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as invalid:
        raise InvalidBody(json.loads(invalid.json(include_url=False))) from None


class ControlApi:
    """The ``/_sandbox`` routes over the other components' state."""

    def __init__(
        self,
        ledger: Ledger,
        faults: FaultEngine,
        erp: ErpApi,
        carrier: EasyPostApi,
        mailbox: Mailbox,
        stripe: StripeApi,
        webhooks: WebhookDispatcher,
        twilio: TwilioApi,
    ) -> None:
        self._ledger = ledger
        self._faults = faults
        self._erp = erp
        self._carrier = carrier
        self._mailbox = mailbox
        self._stripe = stripe
        self._webhooks = webhooks
        self._twilio = twilio

    def routes(self) -> list[Route]:
        """The routes, relative to the ``/_sandbox`` mount."""
        return [
            Route("/health", self._health, methods=["GET"]),
            Route("/stock", self._put_stock, methods=["PUT"]),
            Route("/faults", self._get_faults, methods=["GET"]),
            Route("/faults", self._put_faults, methods=["PUT"]),
            Route("/faults", self._delete_faults, methods=["DELETE"]),
            Route("/faults/stats", self._fault_stats, methods=["GET"]),
            Route("/ledger", self._ledger_view, methods=["GET"]),
            Route("/mail", self._mail, methods=["GET"]),
            Route("/sms", self._sms, methods=["GET"]),
            Route("/carrier/{id}/status", self._carrier_status, methods=["POST"]),
            Route("/payment/{id}/dispute", self._dispute, methods=["POST"]),
            Route("/webhooks", self._get_webhooks, methods=["GET"]),
            Route("/webhooks", self._put_webhooks, methods=["PUT"]),
            Route("/webhooks", self._delete_webhooks, methods=["DELETE"]),
            Route("/webhooks/stats", self._webhook_stats, methods=["GET"]),
        ]

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def _put_stock(self, request: Request) -> Response:
        try:
            update = await _parse(request, StockUpdate)
        except InvalidBody as invalid:
            return _error(422, "invalid_request", "invalid stock update", invalid.details)
        erp = self._erp
        items = [erp.set_stock(item.sku, item.on_hand, item.restock_date, item.location) for item in update.items]
        return JSONResponse({"items": items})

    async def _get_faults(self, request: Request) -> Response:
        return JSONResponse(self._faults.snapshot())

    async def _put_faults(self, request: Request) -> Response:
        try:
            settings = await _parse(request, FaultSettings)
        except InvalidBody as invalid:
            return _error(422, "invalid_request", "invalid fault settings", invalid.details)
        self._faults.configure(settings)
        return JSONResponse(self._faults.snapshot())

    async def _delete_faults(self, request: Request) -> Response:
        self._faults.clear()
        return JSONResponse(self._faults.snapshot())

    async def _fault_stats(self, request: Request) -> Response:
        return JSONResponse(self._faults.stats_snapshot())

    async def _ledger_view(self, request: Request) -> Response:
        order_id = request.query_params.get("order_id")
        if not order_id:
            return _error(422, "invalid_request", "order_id is required")
        return JSONResponse(self._ledger.view(order_id))

    async def _mail(self, request: Request) -> Response:
        return JSONResponse(self._mailbox.messages(request.query_params.get("order_id")))

    async def _sms(self, request: Request) -> Response:
        return JSONResponse(self._twilio.messages(request.query_params.get("order_id")))

    async def _carrier_status(self, request: Request) -> Response:
        try:
            body = await _parse(request, CarrierStatus)
        except InvalidBody as invalid:
            return _error(422, "invalid_request", "invalid carrier status", invalid.details)
        shipment = self._carrier.find(request.path_params["id"])
        if shipment is None:
            return _error(404, "not_found", f"no shipment with id or reference {request.path_params['id']}")
        if shipment.tracker_id is None:
            return _error(409, "not_purchased", "the shipment has no label yet, so no tracker")
        return JSONResponse(self._carrier.force_status(shipment, body.status))

    async def _dispute(self, request: Request) -> Response:
        try:
            body = await _parse(request, DisputeIn)
        except InvalidBody as invalid:
            return _error(422, "invalid_request", "invalid dispute", invalid.details)
        intent_id = request.path_params["id"]
        try:
            status, dispute = self._stripe.open_dispute(intent_id, body.reason)
        except KeyError:
            return _error(404, "not_found", f"no payment intent {intent_id}")
        except ValueError as not_captured:
            return _error(409, "not_captured", str(not_captured))
        return JSONResponse(dispute, status_code=status)

    async def _get_webhooks(self, request: Request) -> Response:
        return JSONResponse(self._webhooks.snapshot())

    async def _put_webhooks(self, request: Request) -> Response:
        try:
            settings = await _parse(request, WebhookSettings)
        except InvalidBody as invalid:
            return _error(422, "invalid_request", "invalid webhook settings", invalid.details)
        self._webhooks.configure(settings)
        return JSONResponse(self._webhooks.snapshot())

    async def _delete_webhooks(self, request: Request) -> Response:
        self._webhooks.clear()
        return JSONResponse(self._webhooks.snapshot())

    async def _webhook_stats(self, request: Request) -> Response:
        return JSONResponse(self._webhooks.stats_snapshot())
