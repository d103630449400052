"""Returns, exchanges and claims (RMAs): opened on an order from any channel (web, store, phone), then steered on
``/returns/{rma_id}``. Every decision is a workflow Update: applied (200) or refused with the reason (409)."""

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.exceptions import RequestValidationError

from api.auth import Authenticator
from api.problems import Problem, decided, documented
from domain.order import OrderId
from domain.returns import (
    ApprovalDecision,
    CancelReturn,
    ResendLabel,
    ReturnReceipt,
    ReturnRequest,
    ReturnView,
    RmaId,
)
from hub.client import DecisionRefused, OrderClient, OrderNotFound, ReturnConflict, ReturnNotFound
from hub.runtime.api_keys import READ, WRITE

_ALREADY_OPEN: dict[int | str, dict[str, Any]] = {
    200: {"model": ReturnView, "description": "The same request had already opened this RMA"}
}


def returns_router(orders: OrderClient, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["returns"])
    can_read = [Depends(auth.require(READ))]
    can_write = [Depends(auth.require(WRITE))]

    @router.post(
        "/orders/{order_id}/returns",
        status_code=201,
        dependencies=can_write,
        responses=_ALREADY_OPEN | documented(401, 403, 503, 404, 409, 413, 422),
    )
    async def open_return(order_id: OrderId, request: ReturnRequest, response: Response) -> ReturnView:
        """Open a return, an exchange or a claim on a delivered order, from any channel. The order checks its
        return window and what was delivered and not already returned (409 with the reason otherwise). The same
        request again answers 200 with the RMA; the same ``rma_id`` with another request is a conflict (409)."""
        try:
            opened = await orders.open_return(order_id, request)
        except OrderNotFound:
            raise Problem(404, "Order not found", f"no order {order_id}") from None
        except ReturnConflict as conflict:
            raise Problem(409, "Return conflict", str(conflict)) from None
        except DecisionRefused as refused:
            raise Problem(409, "Return refused", str(refused)) from None
        response.headers["Location"] = f"/returns/{request.rma_id}"
        if not opened.created:
            response.status_code = 200
        return opened.view

    @router.get("/returns/{rma_id}", dependencies=can_read, responses=documented(401, 403, 503, 404, 422))
    async def get_return(rma_id: RmaId) -> ReturnView:
        """Status, lines, what came back and in which condition, the refund, the return parcel and the replacement
        with tracking, every message sent, and the timeline."""
        try:
            return await orders.return_view(rma_id)
        except ReturnNotFound:
            raise Problem(404, "Return not found", f"no RMA {rma_id}") from None

    @router.post(
        "/returns/{rma_id}/received", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422)
    )
    async def record_receipt(rma_id: RmaId, receipt: ReturnReceipt | None = None) -> ReturnView:
        """The items are back (a store associate, the warehouse), with the inspection per line (``restock`` or
        ``damaged``; without ``lines`` everything came back resaleable). Answers once the RMA is settled; 422
        naming the line when the lines, added up per SKU, name a SKU the RMA does not or more than it requested."""
        if receipt is not None and receipt.lines:
            rma = await decided("Receipt refused", orders.return_view(rma_id))
            _check_received_lines(rma, receipt)
        return await decided("Receipt refused", orders.record_receipt(rma_id, receipt or ReturnReceipt()))

    @router.post(
        "/returns/{rma_id}/label/resend", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422)
    )
    async def resend_label(rma_id: RmaId, request: ResendLabel | None = None) -> ReturnView:
        """Send the return label to the customer again; 409 once the items are back or when there is no label."""
        return await decided("Resend refused", orders.resend_return_label(rma_id, request))

    @router.post(
        "/returns/{rma_id}/approval", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422)
    )
    async def decide_approval(rma_id: RmaId, decision: ApprovalDecision) -> ReturnView:
        """An operator approves or declines a claim above the approval limit. Answers once the claim is settled."""
        return await decided("Decision refused", orders.decide_approval(rma_id, decision))

    @router.post("/returns/{rma_id}/cancel", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422))
    async def cancel_return(rma_id: RmaId, request: CancelReturn | None = None) -> ReturnView:
        """Withdraw the RMA while nothing has shipped or come back; 409 with the reason afterwards (an exchange
        whose replacement has shipped cannot be cancelled, so it can never be refunded by mistake)."""
        return await decided("Cancellation refused", orders.cancel_return(rma_id, request))

    return router


def _check_received_lines(rma: ReturnView, receipt: ReturnReceipt) -> None:
    """Refuse (422, the field named) a receipt whose lines, added up per SKU, exceed what the RMA requested: a SKU
    listed twice must not count twice (issue 14, scenario 25). The workflow checks again (409)."""
    requested = {line.sku: line.quantity for line in rma.lines}
    counted: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    for i, line in enumerate(receipt.lines or []):
        if line.sku not in requested:
            errors.append(_field_error(("lines", i, "sku"), f"{line.sku} is not part of this RMA"))
            continue
        counted[line.sku] = counted.get(line.sku, 0) + line.quantity
        if counted[line.sku] > requested[line.sku]:
            reason = f"{counted[line.sku]} x {line.sku} received in all, {requested[line.sku]} requested"
            errors.append(_field_error(("lines", i, "quantity"), reason))
    if errors:
        raise RequestValidationError(errors)


def _field_error(location: tuple[str | int, ...], reason: str) -> dict[str, Any]:
    return {"loc": ("body", *location), "msg": reason, "type": "value_error"}
