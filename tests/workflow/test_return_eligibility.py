"""The order decides what may come back (issue 4): only what was delivered and not already returned, and only
within the retailer's window after delivery. Refusals say why and start nothing."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.contract import VIEW, OrderUpdate, ReturnUpdate, return_workflow_id
from domain.returns import (
    AfterSalesKind,
    ClaimReason,
    InspectedLine,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
    ReturnView,
)
from domain.status import OrderStatus
from hub.client import DecisionRefused, OrderClient, ReturnConflict
from tests.eventually import eventually
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


async def _window_open(fake_hub: FakeHub) -> OrderClient:
    return OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(milliseconds=100), returns={"window": timedelta(minutes=5)}),
    )


async def _closed(orders: OrderClient, order_id: str, rma_id: str) -> None:
    await orders.return_handle(rma_id).result()
    await eventually(
        lambda: orders.view(order_id),
        lambda v: any(
            e.step == "after_sales" and rma_id in (e.detail or "") and "opened" not in (e.detail or "")
            for e in v.timeline
        ),
        what=f"{order_id} told {rma_id} closed",
    )


async def test_the_unit_never_received_by_a_partial_return_can_still_be_returned(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 24: 2 x INK-07 asked back, 1 received and refunded; the other one is still returnable."""
    orders = await _window_open(fake_hub)
    order = make_order()  # PEN-01 x1, INK-07 x2
    await orders.place(order)
    await _delivered(orders, order.order_id)
    first = unique_id("RMA")
    await orders.open_return(order.order_id, _request(first, INK_07=2))
    await eventually(
        lambda: orders.return_handle(first).query(VIEW, result_type=ReturnView),
        lambda v: v.status is ReturnStatus.LABEL_ISSUED,
        what="label issued",
    )
    receipt = ReturnReceipt(lines=[InspectedLine(sku="INK-07", quantity=1)])
    await orders.return_handle(first).execute_update(ReturnUpdate.RECORD_RECEIPT, receipt, result_type=ReturnView)
    await _closed(orders, order.order_id, first)

    opened = await orders.open_return(order.order_id, _request(unique_id("RMA"), INK_07=1))

    assert opened.view.status is ReturnStatus.REQUESTED
    with pytest.raises(DecisionRefused, match="INK-07: 1 requested, 0 delivered and not already returned"):
        await orders.open_return(order.order_id, _request(unique_id("RMA"), INK_07=1))


async def test_a_replacement_sent_by_an_exchange_can_be_claimed_damaged(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 24: the pen was exchanged (wrong size back, replacement sent); the replacement arrives
    damaged: the customer's claim on it is accepted."""
    orders = await _window_open(fake_hub)
    order = make_order()
    await orders.place(order)
    await _delivered(orders, order.order_id)
    exchange = unique_id("RMA")
    await orders.open_return(
        order.order_id,
        ReturnRequest(rma_id=exchange, kind=AfterSalesKind.EXCHANGE, lines=[{"sku": "PEN-01", "quantity": 1}]),
    )
    await eventually(
        lambda: orders.return_handle(exchange).query(VIEW, result_type=ReturnView),
        lambda v: v.status is ReturnStatus.LABEL_ISSUED,
        what="exchange shipped",
    )
    await orders.return_handle(exchange).execute_update(
        ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(), result_type=ReturnView
    )
    await _closed(orders, order.order_id, exchange)

    claim = ReturnRequest(
        rma_id=unique_id("RMA"),
        kind=AfterSalesKind.CLAIM,
        claim_reason=ClaimReason.DAMAGED,
        lines=[{"sku": "PEN-01", "quantity": 1}],
    )
    opened = await orders.open_return(order.order_id, claim)

    assert opened.view.status is ReturnStatus.REQUESTED


async def test_a_return_on_an_order_declined_at_payment_names_the_decline_not_a_closed_window(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 31: the order's workflow has ended without delivering anything; the refusal said
    "return window closed" for a window that never opened."""
    fake_hub.effects.reject["authorize"] = "card_declined"
    order = make_order()
    ended = await (await fake_hub.orders.place(order)).handle.result()
    assert ended.status is OrderStatus.CANCELED and ended.delivered_at is None

    with pytest.raises(DecisionRefused) as refused:
        await fake_hub.orders.open_return(order.order_id, _request(unique_id("RMA"), PEN_01=1))
    assert str(refused.value) == "nothing in this order was delivered: it was canceled (payment_declined)"


async def test_an_rma_id_already_used_by_another_order_is_refused_even_once_that_rma_has_closed(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 28: two orders racing on one RMA id (both past the client's look-up) must not make a
    second RMA of that id, even after the first one's workflow has closed: one RMA id, one workflow, ever."""
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(milliseconds=100), returns={"window": timedelta(hours=1)}),
    )
    first, second = make_order(), make_order()
    placed = [await orders.place(first), await orders.place(second)]
    try:
        await _delivered(orders, first.order_id)
        await _delivered(orders, second.order_id)
        rma_id = unique_id("RMA")
        await orders.open_return(first.order_id, _request(rma_id, PEN_01=1))

        async def second_order_opens_it() -> None:
            # Asked directly, as when both requests passed the client's look-up at once.
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await orders.handle(second.order_id).execute_update(
                    OrderUpdate.OPEN_RETURN, _request(rma_id, INK_07=1), result_type=ReturnView
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert refused.value.cause.message == f"RMA {rma_id} is already in use"

        await second_order_opens_it()  # while the first order's RMA runs
        cancelled = await orders.cancel_return(rma_id)
        assert cancelled.status is ReturnStatus.CANCELED
        await orders.return_handle(rma_id).result()
        await second_order_opens_it()  # and once it has closed
        runs = [run async for run in fake_hub.env.client.list_workflows(f"WorkflowId = '{return_workflow_id(rma_id)}'")]
        assert len(runs) == 1
        assert (await orders.return_view(rma_id)).order_id == first.order_id
        assert (await orders.view(second.order_id)).returns == []
    finally:
        for handle in placed:
            await handle.handle.terminate("test over")


async def test_an_exchange_charged_for_an_item_never_returned_counts_in_the_orders_captured(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 22 (the order's side): what the exchange charged is captured money in the order's view, as
    in the provider's ledger."""
    returns = {
        "window": timedelta(minutes=5),
        "reminder_after": timedelta(hours=1),
        "expires_after": timedelta(seconds=2),
        "unreturned_exchange": "charge",
    }
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(milliseconds=100), returns=returns),
    )
    order = make_order()
    await orders.place(order)
    await _delivered(orders, order.order_id)
    exchange = unique_id("RMA")
    await orders.open_return(
        order.order_id,
        ReturnRequest(rma_id=exchange, kind=AfterSalesKind.EXCHANGE, lines=[{"sku": "PEN-01", "quantity": 1}]),
    )

    rma = await orders.return_handle(exchange).result()
    await _closed(orders, order.order_id, exchange)

    assert (rma.status, rma.charged) == (ReturnStatus.EXPIRED, 12900)
    view = await orders.view(order.order_id)
    assert (view.captured, view.refunded) == (order.total + 12900, 0)
