"""A claim above the approval limit waits for an operator until a deadline (issue 14, scenario 27): then a person is
asked for, visibly, or the retailer's default decision applies; the order never waits for it for ever."""

from datetime import timedelta

from domain.contract import ReturnUpdate
from domain.returns import (
    AfterSalesKind,
    ApprovalDecision,
    ApprovalTimeout,
    ClaimReason,
    ReturnPolicy,
    ReturnRequest,
    ReturnStatus,
    ReturnView,
)
from domain.status import OrderStatus
from hub.client import OrderClient
from tests.orders import make_order, policy, unique_id, view_when
from tests.workflow.conftest import FakeHub
from tests.workflow.test_returns import FAST, PEN, _input, _rma_when, _sent, _start
from workflows.search_attributes import RETURN_STATUS

_DEADLINE = timedelta(seconds=1)


async def test_a_claim_no_operator_decides_in_time_requires_action_visibly_and_is_still_decided(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 27: past the deadline the claim is ``requires_action`` (its search attribute too), with
    the action that resolves it; the operator's later decision still settles it."""
    input = _input(
        fake_hub,
        kind=AfterSalesKind.CLAIM,
        lines=[PEN],
        claim_reason=ClaimReason.MISSING,
        policy=FAST.model_copy(update={"approval_deadline": _DEADLINE}),
    )
    handle = await _start(fake_hub, input)

    overdue = await _rma_when(handle, lambda v: v.status is ReturnStatus.REQUIRES_ACTION, "requires action")
    assert (await handle.describe()).typed_search_attributes.get(RETURN_STATUS) == "requires_action"
    assert any("POST /returns/" in (e.detail or "") for e in overdue.timeline if e.step == "approval")
    assert fake_hub.effects.counts["refund"] == 0

    view = await handle.execute_update(
        ReturnUpdate.DECIDE_APPROVAL, ApprovalDecision(approved=True, operator="ops.lea"), result_type=ReturnView
    )
    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 12900)
    assert view.messages_sent == [_sent(input, "claim-received"), _sent(input, "claim-approved")]


async def test_a_claim_no_operator_decides_in_time_gets_the_retailers_default_decision(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 27: a retailer whose policy approves overdue claims refunds it at the deadline."""
    deadline_policy = FAST.model_copy(
        update={"approval_deadline": _DEADLINE, "approval_timeout_decision": ApprovalTimeout.APPROVE}
    )
    input = _input(
        fake_hub, kind=AfterSalesKind.CLAIM, lines=[PEN], claim_reason=ClaimReason.DAMAGED, policy=deadline_policy
    )
    view = await (await _start(fake_hub, input)).result()

    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 12900)
    assert view.messages_sent == [_sent(input, "claim-received"), _sent(input, "claim-approved")]
    assert "approved by policy: no operator decided within 0:00:01" in [e.detail for e in view.timeline]


async def test_the_order_does_not_wait_for_ever_for_a_claim_awaiting_an_operator(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 27: the order's return window closes and the order ends, though its claim still waits for
    a person (who is asked for on the RMA)."""
    returns = ReturnPolicy(window=timedelta(seconds=3), approval_deadline=_DEADLINE, claim_approval_limit=100)
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(tracking_poll_interval=timedelta(milliseconds=100), returns=returns),
    )
    order = make_order()
    placed = await orders.place(order)
    await view_when(orders, order.order_id, lambda v: v.status is OrderStatus.COMPLETED, what="delivered")
    rma_id = unique_id("RMA")
    claim = ReturnRequest(
        rma_id=rma_id,
        kind=AfterSalesKind.CLAIM,
        claim_reason=ClaimReason.MISSING,
        lines=[{"sku": "PEN-01", "quantity": 1}],
    )
    await orders.open_return(order.order_id, claim)

    ended = await placed.handle.result()

    assert ended.finished
    rma = await orders.return_view(rma_id)
    assert rma.status is ReturnStatus.REQUIRES_ACTION
    await orders.decide_approval(rma_id, ApprovalDecision(approved=False, operator="ops.lea"))
    assert (await orders.return_handle(rma_id).result()).status is ReturnStatus.DECLINED
