"""Orders for tests: valid orders with unique ids, varied on demand, and waiting for one to get somewhere."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from domain.order import Order
from domain.order_view import OrderPolicy, OrderView
from domain.returns import ReturnPolicy
from hub.client import OrderClient
from tests.eventually import eventually

BASE: dict[str, Any] = {
    "customer": {"id": "C-42", "email": "ana@example.com", "name": "Ana Martin", "locale": "fr-FR"},
    "currency": "EUR",
    "lines": [
        {"sku": "PEN-01", "quantity": 1, "unit_price": 12900},
        {"sku": "INK-07", "quantity": 2, "unit_price": 450},
    ],
    "shipping_address": {
        "line1": "3 rue des Lilas",
        "city": "Paris",
        "postal_code": "75011",
        "country": "FR",
    },
    "payment_method": "pm_card_visa",
}


def unique_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_order(order_id: str | None = None, **changes: Any) -> Order:
    return Order.model_validate({**BASE, "order_id": order_id or unique_id(), **changes})


def policy(**changes: Any) -> OrderPolicy:
    """An order policy for tests: no return window (the workflow ends at delivery) unless a test asks for one."""
    return OrderPolicy(**{"returns": ReturnPolicy(window=timedelta(0)), **changes})


def outline(view: OrderView) -> str:
    """What a failed wait shows of an order: its three statuses and the steps it took."""
    statuses = f"{view.status.value}, {view.payment_status.value}, {view.fulfillment_status.value}"
    return f"{view.order_id}: {statuses}; steps {[e.step for e in view.timeline]}"


async def view_when(
    orders: OrderClient, order_id: str, ready: Callable[[OrderView], bool], *, what: str, timeout_s: float = 30.0
) -> OrderView:
    """The order's view once it is ``ready``; a wait that runs out names ``what`` and shows :func:`outline`."""
    return await eventually(
        lambda: orders.view(order_id), ready, what=f"{order_id}: {what}", timeout_s=timeout_s, show=outline
    )
