"""The order decides what may come back (issue 4): only what was delivered and not already returned, and only
within the retailer's window after delivery. Refusals say why and start nothing."""

import asyncio
from datetime import timedelta

import pytest

from domain.returns import AfterSalesKind, ReturnRequest, ReturnStatus
from domain.status import OrderStatus
from hub.client import DecisionRefused, OrderClient, ReturnConflict
from tests.orders import make_order, policy, unique_id, view_when
from tests.workflow.conftest import FakeHub


def _request(rma_id: str, **lines: int) -> ReturnRequest:
    return ReturnRequest(
        rma_id=rma_id,
        kind=AfterSalesKind.RETURN,
        lines=[{"sku": sku.replace("_", "-"), "quantity": n} for sku, n in lines.items()],
    )


async def _delivered(orders: OrderClient, order_id: str) -> None:
    await view_when(orders, order_id, lambda v: v.status is OrderStatus.COMPLETED, what="delivered")


async def test_over_returns_and_returns_after_the_window_are_refused_with_the_reason(fake_hub: FakeHub) -> None:
    window = timedelta(seconds=3)
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(milliseconds=100), returns={"window": window}),
    )
    order = make_order()  # PEN-01 x1, INK-07 x2
    await orders.place(order)
    await _delivered(orders, order.order_id)

    with pytest.raises(DecisionRefused, match=r"INK-07: 3 requested, 2 delivered and not already returned"):
        await orders.open_return(order.order_id, _request(unique_id("RMA"), INK_07=3))
    first = unique_id("RMA")
    opened = await orders.open_return(order.order_id, _request(first, INK_07=1))
    assert opened.view.status is ReturnStatus.REQUESTED
    with pytest.raises(DecisionRefused, match="INK-07: 2 requested, 1 delivered and not already returned"):
        await orders.open_return(order.order_id, _request(unique_id("RMA"), INK_07=2))
    with pytest.raises(ReturnConflict, match="exists with a different request"):
        await orders.open_return(order.order_id, _request(first, PEN_01=1))

    view = await orders.view(order.order_id)
    assert view.returns == [first] and view.return_window_ends is not None
    await asyncio.sleep(window.total_seconds() + 0.5)  # the first RMA still waits for its parcel: the order too
    with pytest.raises(DecisionRefused, match="the return window closed on"):
        await orders.open_return(order.order_id, _request(unique_id("RMA"), PEN_01=1))
