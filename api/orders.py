"""``/orders``: place, read, list and steer orders. Every decision goes through a workflow Update, so it is
either applied (200) or refused with the workflow's reason (409) — never half-done. A decision's
``Idempotency-Key`` header is its Update id: sent again after a lost reply, it gets the first answer."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel

from api.auth import Authenticator
from api.problems import Problem, decided, documented
from domain.backorder import BackorderDecision
from domain.order import CustomerId, NewOrder, OrderId
from domain.order_view import AddressChange, CancelRequest, OrderView, RetryRequest, initial_view
from domain.status import OrderStatus
from hub.client import OrderClient, OrderConflict, OrderNotFound
from hub.runtime.api_keys import READ, WRITE

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Your key for this decision: sent again with the same key (say, after a lost reply), the "
        "decision is applied once and the first answer (applied or refused) is given again.",
    ),
]


class OrderListItem(BaseModel):
    order_id: str
    customer_id: str | None
    status: str | None
    started_at: datetime | None
    closed_at: datetime | None


class OrderList(BaseModel):
    items: list[OrderListItem]


_ALREADY_PLACED: dict[int | str, dict[str, Any]] = {
    200: {"model": OrderView, "description": "The same order was already placed"}
}


def orders_router(orders: OrderClient, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/orders", tags=["orders"])
    can_read = [Depends(auth.require(READ))]
    can_write = [Depends(auth.require(WRITE))]

    @router.post(
        "",
        status_code=201,
        dependencies=can_write,
        responses=_ALREADY_PLACED | documented(401, 403, 503, 409, 413, 422),
    )
    async def place_order(order: NewOrder, response: Response) -> OrderView:
        """Start the order's workflow. Placing the same order again answers 200 with it; the same id with other
        content is a conflict (409)."""
        try:
            placed = await orders.place(order)
        except OrderConflict as conflict:
            raise Problem(409, "Order conflict", str(conflict)) from None
        response.headers["Location"] = f"/orders/{order.order_id}"
        if not placed.created:
            response.status_code = 200
        if not placed.acted:
            # Nothing has happened to it yet: no need to ask a worker, which may not be there to answer.
            return initial_view(order)
        return await orders.view(order.order_id)

    @router.get("/{order_id}", dependencies=can_read, responses=documented(401, 403, 503, 404, 422))
    async def get_order(order_id: OrderId) -> OrderView:
        """Statuses, lines, shipments with tracking, and the timeline of everything that happened."""
        try:
            return await orders.view(order_id)
        except OrderNotFound:
            raise Problem(404, "Order not found", f"no order {order_id}") from None

    @router.get("", dependencies=can_read, responses=documented(401, 403, 503, 422))
    async def list_orders(
        customer_id: CustomerId | None = None,
        status: OrderStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> OrderList:
        """Orders by customer and status, from Temporal's visibility store (it lags writes by a moment)."""
        found = await orders.list(customer_id=customer_id, status=status.value if status else None, limit=limit)
        return OrderList(items=[OrderListItem(**vars(summary)) for summary in found])

    @router.post("/{order_id}/cancel", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422))
    async def cancel_order(
        order_id: OrderId, request: CancelRequest | None = None, idempotency_key: IdempotencyKey = None
    ) -> OrderView:
        """Cancel before shipping: what was done is undone and the customer told once. 409 once shipped."""
        return await decided("Cancellation refused", orders.cancel(order_id, request, idempotency_key=idempotency_key))

    @router.post(
        "/{order_id}/shipping-address", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422)
    )
    async def change_shipping_address(
        order_id: OrderId, change: AddressChange, idempotency_key: IdempotencyKey = None
    ) -> OrderView:
        """Change where the parcel goes until the carrier first scans it; after the label is printed, a label for the
        new address is bought, then the unused one voided. 409 once scanned, or when the carrier refuses the new
        label or will not void the old one (the parcel keeps its old label)."""
        changing = orders.change_shipping_address(order_id, change, idempotency_key=idempotency_key)
        return await decided("Address change refused", changing)

    @router.post(
        "/{order_id}/backorder-decision", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422)
    )
    async def decide_backorder(
        order_id: OrderId, decision: BackorderDecision, idempotency_key: IdempotencyKey = None
    ) -> OrderView:
        """The customer's answer to a shortage (story 4): ``ship_available`` (what is in stock now, the rest when it
        arrives), ``wait_for_all`` (one parcel, later) or ``cancel_missing`` (drop what is missing, pay only for
        the rest). The choice (or the deadline's default) can be changed while the order waits for stock and nothing
        of it was acted on; once a parcel has left, what still waits can be dropped (``cancel_missing``: its
        authorization voided). 409 when nothing waits for stock, or for a change no longer possible."""
        deciding = orders.decide_backorder(order_id, decision, idempotency_key=idempotency_key)
        return await decided("Decision refused", deciding)

    @router.post("/{order_id}/retry", dependencies=can_write, responses=documented(401, 403, 503, 404, 409, 422))
    async def retry_actions(order_id: OrderId, request: RetryRequest | None = None) -> OrderView:
        """An operator, once they have looked at why the order is in ``requires_action`` (``action_required``: a
        refund the provider refused, a receipt the ERP did not take, an undo step refused: a label void, a payment
        void or refund, a hold release): the order tries those steps again, under the same idempotency keys. 409
        when nothing waits for a person."""
        return await decided("Retry refused", orders.retry_actions(order_id, request))

    return router
