"""ReturnWorkflow over in-memory ports: returns, store returns, label resends, exchanges, claims, expiry and
continue-as-new, each started directly with the input the order workflow would build."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.boundary import ConnectorBoundaryInterceptor
from domain.contract import Refusal, ReturnUpdate, order_workflow_id, return_workflow_id
from domain.events import EventKind, UpstreamEvent
from domain.inventory import HoldStatus, ReturnedStock
from domain.keys import after_sales_key, authorization_key
from domain.order import OrderLine
from domain.payment import Payment, ProviderPaymentState
from domain.returns import (
    AfterSalesKind,
    ApprovalDecision,
    CancelReturn,
    ClaimReason,
    Disposition,
    InspectedLine,
    ResendLabel,
    Resolution,
    ReturnedLine,
    ReturnOutcome,
    ReturnPolicy,
    ReturnReceipt,
    ReturnStatus,
    ReturnView,
    ReturnWorkflowInput,
    WarehouseReceipt,
)
from domain.status import FulfillmentStatus
from hub.runtime.bootstrap import activity_functions
from hub.runtime.sandbox import workflow_runner
from tests.eventually import eventually
from tests.orders import BASE, unique_id
from tests.workflow.conftest import FakeHub
from tests.workflow.parent_stub import OrderAfterSalesStub
from workflows.returns import ReturnWorkflow
from workflows.rma import return_search_attributes
from workflows.search_attributes import CUSTOMER_ID, ORDER_ID, RETURN_STATUS

PEN = OrderLine(sku="PEN-01", quantity=1, unit_price=12900)
INK = OrderLine(sku="INK-07", quantity=2, unit_price=450)
# Seconds, not days: each test waits for real on the dev server.
FAST = ReturnPolicy(reminder_after=timedelta(hours=1), expires_after=timedelta(hours=2), damaged_refund_percent=50)

Handle = WorkflowHandle[ReturnWorkflow, ReturnView]


def _payment(order_id: str, n: int, captured: int) -> Payment:
    return Payment(
        payment_id=f"pi_{order_id}_{n}",
        order_id=order_id,
        reference=authorization_key(order_id, n),
        state=ProviderPaymentState.CAPTURED,
        currency="EUR",
        authorized=captured,
        captured=captured,
    )


def _input(
    hub: FakeHub,
    *,
    kind: AfterSalesKind = AfterSalesKind.RETURN,
    lines: list[OrderLine] | None = None,
    payments: list[int] | None = None,
    policy: ReturnPolicy = FAST,
    locale: str = "fr-FR",
    order_workflow_id: str | None = None,
    **request: Any,
) -> ReturnWorkflowInput:
    """An RMA on a fresh order whose captured payments (minor units, oldest first) the fake provider knows."""
    order_id = unique_id("R")
    lines = lines or [PEN, INK]
    captured = [_payment(order_id, n, amount) for n, amount in enumerate(payments or [13800], start=1)]
    for payment in captured:
        hub.payments.by_key[payment.reference] = payment
    return ReturnWorkflowInput.model_validate(
        {
            "request": {
                "rma_id": f"RMA-{uuid.uuid4().hex[:10]}",
                "kind": kind,
                "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
                **request,
            },
            "order_id": order_id,
            "order_workflow_id": order_workflow_id or f"order:{order_id}",
            "customer": {**BASE["customer"], "locale": locale},
            "currency": "EUR",
            "address": BASE["shipping_address"],
            "lines": lines,
            "payments": captured,
            "policy": policy,
            "requested_at": datetime.now(UTC),
        }
    )


async def _start(hub: FakeHub, input: ReturnWorkflowInput) -> Handle:
    return await hub.env.client.start_workflow(
        ReturnWorkflow.run,
        input,
        id=return_workflow_id(input.request.rma_id),
        task_queue=hub.orders.task_queue,
        search_attributes=return_search_attributes(input),
    )


async def _rma_when(handle: Handle, ready: Callable[[ReturnView], bool], what: str) -> ReturnView:
    return await eventually(
        lambda: handle.query(ReturnWorkflow.view),
        ready,
        what=f"{handle.id}: {what}",
        show=lambda view: (view.status, [(e.step, e.outcome, e.detail) for e in view.timeline]),
    )


def _scan(input: ReturnWorkflowInput, kind: EventKind, operation: str = "return-label") -> UpstreamEvent:
    return UpstreamEvent(
        event_id=f"carrier:{uuid.uuid4().hex}",
        source="carrier",
        kind=kind,
        order_id=input.order_id,
        occurred_at=datetime.now(UTC),
        shipment_reference=after_sales_key(input.order_id, input.request.rma_id, operation),
        raw_status=kind.value.removeprefix("shipment."),
    )


def _sent(input: ReturnWorkflowInput, kind: str, seq: int = 1) -> str:
    return f"{input.order_id}.{kind}.{input.request.rma_id}.{seq}"


async def _refused(update: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await update
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == Refusal.RETURN
    return cause.message


async def _refused_or_closed(update: Any) -> str | None:
    """A decision on an RMA that has just ended: the validator's reason while the workflow is still closing,
    ``None`` when the server answers for the closed workflow (the update can no longer reach it)."""
    try:
        return await _refused(update)
    except RPCError as closed:
        assert closed.status is RPCStatusCode.NOT_FOUND
        return None


def _steps(view: ReturnView) -> list[str]:
    return [entry.step for entry in view.timeline]


async def test_return_is_labelled_tracked_inspected_reported_and_refunded_across_payments(fake_hub: FakeHub) -> None:
    # Two captures (the order shipped in two parcels): 13,350 due is taken 10,000 from the oldest, 3,350 next.
    input = _input(fake_hub, payments=[10000, 3800])
    handle = await _start(fake_hub, input)
    label_ref = after_sales_key(input.order_id, input.request.rma_id, "return-label")

    issued = await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")
    assert issued.return_shipment is not None and issued.return_shipment.label_url == "http://label"
    label_request = fake_hub.carrier.requests[label_ref]
    assert label_request.is_return and label_request.to_address == input.address  # the customer's own address
    mail = fake_hub.notifier.sent[_sent(input, "return-label")]
    assert "http://label" in mail.text and input.request.rma_id in mail.subject

    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_IN_TRANSIT))
    await _rma_when(handle, lambda v: v.status is ReturnStatus.IN_TRANSIT, "in transit")
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_DELIVERED))
    delivered = await _rma_when(handle, lambda v: "return_parcel" in _steps(v), "parcel back")
    # Delivered to the warehouse is not received: nothing is refunded before the inspection.
    assert delivered.status is ReturnStatus.IN_TRANSIT and delivered.refunded == 0
    assert await _refused(handle.execute_update(ReturnUpdate.CANCEL, CancelReturn(), result_type=ReturnView)) == (
        "too late to cancel: the return parcel is already with the carrier"
    )

    receipt_id = after_sales_key(input.order_id, input.request.rma_id, "receipt")
    warehouse = WarehouseReceipt(
        event_id=f"erp:{uuid.uuid4().hex}",
        order_id=input.order_id,
        rma_id=input.request.rma_id,
        receipt_id=receipt_id,
        lines=[InspectedLine(sku="PEN-01", quantity=1), InspectedLine(sku="INK-07", quantity=2, disposition="damaged")],
        occurred_at=datetime.now(UTC),
    )
    await handle.signal(ReturnWorkflow.record_warehouse_receipt, warehouse)
    await handle.signal(ReturnWorkflow.record_warehouse_receipt, warehouse)  # redelivered: dropped
    view = await handle.result()

    assert (view.status, view.refunded, view.finished) == (ReturnStatus.REFUNDED, 12900 + 900 * 50 // 100, True)
    assert view.returned == [
        ReturnedLine(sku="PEN-01", quantity=1, disposition=Disposition.RESTOCK),
        ReturnedLine(sku="INK-07", quantity=2, disposition=Disposition.DAMAGED),
    ]
    first, second = (fake_hub.payments.by_key[authorization_key(input.order_id, n)] for n in (1, 2))
    assert (first.refunded, second.refunded) == (10000, 3350)
    assert fake_hub.effects.counts["refund"] == 2
    assert fake_hub.inventory.receipts[receipt_id].lines == [
        ReturnedStock(sku="PEN-01", quantity=1, disposition=Disposition.RESTOCK),
        ReturnedStock(sku="INK-07", quantity=2, disposition=Disposition.DAMAGED),
    ]
    assert view.messages_sent == [_sent(input, "return-label"), _sent(input, "return-refunded")]
    refunded = fake_hub.notifier.sent[_sent(input, "return-refunded")]
    assert "133,50\u00a0€" in refunded.text and "endommagé" in refunded.text
    # No order workflow runs here: the RMA still ends, and says it could not tell the order.
    assert [e.outcome for e in view.timeline if e.step == "tell_order"] == ["failed"]
    description = await handle.describe()
    assert description.typed_search_attributes.get(RETURN_STATUS) == "refunded"


async def test_store_return_needs_no_label_and_is_refunded_when_the_associate_records_it(fake_hub: FakeHub) -> None:
    input = _input(fake_hub, lines=[PEN], channel="store", received_in_store=True)
    handle = await _start(fake_hub, input)

    view = await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT,
        ReturnReceipt(received_via="store", location="Paris Opera", lines=[InspectedLine(sku="PEN-01", quantity=1)]),
        result_type=ReturnView,
    )

    assert (view.status, view.refunded, view.channel) == (ReturnStatus.REFUNDED, 12900, "store")
    assert view.return_shipment is None and fake_hub.effects.counts["buy_label"] == 0
    assert view.messages_sent == [_sent(input, "return-refunded")]
    assert "recorded via store at Paris Opera" in [e.detail for e in view.timeline]
    assert fake_hub.effects.counts["return.receive"] == 1


async def test_a_receipt_naming_items_not_in_the_return_is_refused(fake_hub: FakeHub) -> None:
    input = _input(fake_hub, lines=[PEN], received_in_store=True)
    handle = await _start(fake_hub, input)

    wrong = ReturnReceipt(lines=[InspectedLine(sku="INK-07", quantity=1)])
    assert await _refused(handle.execute_update(ReturnUpdate.RECORD_RECEIPT, wrong, result_type=ReturnView)) == (
        "INK-07 is not part of this return"
    )
    too_many = ReturnReceipt(lines=[InspectedLine(sku="PEN-01", quantity=2)])
    assert "more PEN-01" in await _refused(
        handle.execute_update(ReturnUpdate.RECORD_RECEIPT, too_many, result_type=ReturnView)
    )
    await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(), result_type=ReturnView)
    assert (await handle.result()).refunded == 12900


async def test_the_label_can_be_resent_while_waiting_and_not_after_receipt(fake_hub: FakeHub) -> None:
    input = _input(fake_hub)
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")

    view = await handle.execute_update(
        ReturnUpdate.RESEND_LABEL, ResendLabel(requested_via="phone"), result_type=ReturnView
    )

    assert view.messages_sent == [_sent(input, "return-label", 1), _sent(input, "return-label", 2)]
    assert all("http://label" in fake_hub.notifier.sent[m].text for m in view.messages_sent)
    assert fake_hub.effects.counts["buy_label"] == 1  # the same label, sent again
    await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(received_via="api"), result_type=ReturnView)
    assert await _refused_or_closed(
        handle.execute_update(ReturnUpdate.RESEND_LABEL, ResendLabel(), result_type=ReturnView)
    ) in (
        "the return is already refunded",
        None,
    )
    await handle.result()


async def test_exchange_ships_the_replacement_at_no_charge_and_finance_cannot_cancel_it(fake_hub: FakeHub) -> None:
    input = _input(fake_hub, kind=AfterSalesKind.EXCHANGE, lines=[PEN], locale="en", reason="wrong size")
    handle = await _start(fake_hub, input)

    issued = await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")
    replacement = issued.replacement_shipment
    assert replacement is not None and replacement.tracking_code
    hold_id = after_sales_key(input.order_id, input.request.rma_id, "replacement-hold")
    assert fake_hub.inventory.holds[hold_id].status is HoldStatus.COMMITTED
    assert not fake_hub.carrier.requests[replacement.reference].is_return
    confirmed = fake_hub.notifier.sent[_sent(input, "exchange-confirmed")]
    # One message, the whole story: what is sent, its tracking, the label for the item going back, no charge.
    assert replacement.tracking_code in confirmed.text and "http://label" in confirmed.text
    assert "no extra charge" in confirmed.text

    # Story 3: once the replacement has shipped, nobody can cancel the exchange (and so refund it).
    reason = await _refused(
        handle.execute_update(ReturnUpdate.CANCEL, CancelReturn(requested_via="api"), result_type=ReturnView)
    )
    assert reason == "too late to cancel: the replacement has shipped"

    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_IN_TRANSIT, "replacement-label"))
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_IN_TRANSIT))
    await _rma_when(handle, lambda v: v.status is ReturnStatus.IN_TRANSIT, "in transit")
    await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT,
        ReturnReceipt(lines=[InspectedLine(sku="PEN-01", quantity=1)]),
        result_type=ReturnView,
    )
    view = await handle.result()

    assert (view.status, view.refunded) == (ReturnStatus.EXCHANGED, 0)
    assert fake_hub.effects.counts["refund"] == 0
    assert view.replacement_shipment is not None
    assert view.replacement_shipment.status is FulfillmentStatus.IN_TRANSIT
    assert fake_hub.effects.counts["return.receive"] == 1
    assert view.messages_sent == [_sent(input, "exchange-confirmed"), _sent(input, "return-received")]
    for message in view.messages_sent:
        assert "refund" not in fake_hub.notifier.sent[message].text.lower()


async def test_an_exchange_without_stock_is_undone_and_told_once(fake_hub: FakeHub) -> None:
    fake_hub.inventory.short["PEN-01"] = 1
    input = _input(fake_hub, kind=AfterSalesKind.EXCHANGE, lines=[PEN], locale="en")
    view = await (await _start(fake_hub, input)).result()

    assert view.status is ReturnStatus.CANCELED
    assert fake_hub.effects.counts["release"] == 1 and fake_hub.effects.counts["void_label"] == 1
    assert fake_hub.effects.counts["commit"] == 0 and fake_hub.effects.counts["refund"] == 0
    assert view.messages_sent == [_sent(input, "return-canceled")]
    text = fake_hub.notifier.sent[_sent(input, "return-canceled")].text
    assert "out of stock" in text and "return label has been cancelled" in text


async def test_a_return_can_be_cancelled_while_its_label_is_unused(fake_hub: FakeHub) -> None:
    input = _input(fake_hub)
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")

    view = await handle.execute_update(
        ReturnUpdate.CANCEL, CancelReturn(reason="changed my mind"), result_type=ReturnView
    )

    assert view.status is ReturnStatus.CANCELED
    assert view.return_shipment is not None and view.return_shipment.status is FulfillmentStatus.CANCELED
    assert fake_hub.effects.counts["void_label"] == 1 and fake_hub.effects.counts["refund"] == 0
    assert view.messages_sent == [_sent(input, "return-label"), _sent(input, "return-canceled")]
    assert (await handle.result()).status is ReturnStatus.CANCELED


async def test_claim_under_the_limit_is_refunded_at_once(fake_hub: FakeHub) -> None:
    input = _input(fake_hub, kind=AfterSalesKind.CLAIM, lines=[INK], claim_reason=ClaimReason.DAMAGED)
    view = await (await _start(fake_hub, input)).result()

    assert (view.status, view.refunded, view.claim_reason) == (ReturnStatus.REFUNDED, 900, ClaimReason.DAMAGED)
    assert fake_hub.effects.counts["buy_label"] == 0 and fake_hub.effects.counts["return.receive"] == 0
    assert view.messages_sent == [_sent(input, "claim-approved")]


@pytest.mark.parametrize(
    ("approved", "status", "refunded"), [(True, ReturnStatus.REFUNDED, 12900), (False, ReturnStatus.DECLINED, 0)]
)
async def test_claim_over_the_limit_waits_for_an_operator(
    fake_hub: FakeHub, approved: bool, status: ReturnStatus, refunded: int
) -> None:
    input = _input(fake_hub, kind=AfterSalesKind.CLAIM, lines=[PEN], claim_reason=ClaimReason.MISSING)
    handle = await _start(fake_hub, input)

    await _rma_when(
        handle,
        lambda v: v.status is ReturnStatus.AWAITING_APPROVAL and bool(v.messages_sent),
        "awaiting approval, customer told",
    )
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes.get(RETURN_STATUS), attributes.get(ORDER_ID), attributes.get(CUSTOMER_ID)) == (
        "awaiting_approval",
        input.order_id,
        "C-42",
    )
    assert fake_hub.effects.counts["refund"] == 0
    view = await handle.execute_update(
        ReturnUpdate.DECIDE_APPROVAL,
        ApprovalDecision(approved=approved, operator="ops.lea", note="photo checked"),
        result_type=ReturnView,
    )

    assert (view.status, view.refunded, fake_hub.effects.counts["refund"]) == (status, refunded, int(approved))
    outcome = "claim-approved" if approved else "claim-declined"
    assert view.messages_sent == [_sent(input, "claim-received"), _sent(input, outcome)]
    assert await _refused_or_closed(
        handle.execute_update(ReturnUpdate.DECIDE_APPROVAL, _second_opinion(), result_type=ReturnView)
    ) in (
        f"the claim is already {status.value}",
        None,
    )


def _second_opinion() -> ApprovalDecision:
    return ApprovalDecision(approved=True, operator="ops.max")


async def test_claim_resolved_by_replacement_ships_it_and_refunds_nothing(fake_hub: FakeHub) -> None:
    input = _input(
        fake_hub, kind=AfterSalesKind.CLAIM, lines=[INK], claim_reason=ClaimReason.WRONG_ITEM, resolution="replace"
    )
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.REPLACEMENT_SHIPPED, "replacement shipped")
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_DELIVERED, "replacement-label"))
    view = await handle.result()

    assert (view.status, view.refunded) == (ReturnStatus.EXCHANGED, 0)
    assert view.replacement_shipment is not None and view.return_shipment is None
    assert (fake_hub.effects.counts["commit"], fake_hub.effects.counts["refund"]) == (1, 0)
    assert view.messages_sent == [_sent(input, "replacement-shipped")]
    assert view.replacement_shipment.tracking_code is not None
    assert view.replacement_shipment.tracking_code in fake_hub.notifier.sent[view.messages_sent[0]].text


async def test_claim_whose_replacement_cannot_ship_is_refunded_instead(fake_hub: FakeHub) -> None:
    fake_hub.effects.reject["buy_label"] = "SHIPMENT.POSTAGE.FAILURE"
    input = _input(
        fake_hub,
        kind=AfterSalesKind.CLAIM,
        lines=[INK],
        claim_reason=ClaimReason.DAMAGED,
        resolution=Resolution.REPLACE,
    )
    view = await (await _start(fake_hub, input)).result()

    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 900)
    assert fake_hub.effects.counts["release"] == 1 and fake_hub.effects.counts["commit"] == 0
    assert view.messages_sent == [_sent(input, "claim-approved")]


async def test_an_rma_whose_items_never_come_back_expires_and_voids_its_label(fake_hub: FakeHub) -> None:
    policy = ReturnPolicy(reminder_after=timedelta(seconds=1), expires_after=timedelta(seconds=3))
    input = _input(fake_hub, policy=policy)
    view = await (await _start(fake_hub, input)).result()

    assert view.status is ReturnStatus.EXPIRED and view.refunded == 0
    assert view.return_shipment is not None and view.return_shipment.status is FulfillmentStatus.CANCELED
    assert fake_hub.effects.counts["void_label"] == 1 and fake_hub.effects.counts["refund"] == 0
    assert view.messages_sent == [
        _sent(input, "return-label"),
        _sent(input, "return-reminder"),
        _sent(input, "return-expired"),
    ]
    assert "http://label" in fake_hub.notifier.sent[_sent(input, "return-reminder")].text


async def test_a_long_return_continues_as_new_and_completes_with_its_state(fake_hub: FakeHub) -> None:
    policy = FAST.model_copy(update={"history_event_limit": 12})
    input = _input(fake_hub, policy=policy)
    handle = await _start(fake_hub, input)

    await _rma_when(handle, lambda v: "continue_as_new" in _steps(v), "continued as new")
    for kind in (EventKind.SHIPMENT_IN_TRANSIT, EventKind.SHIPMENT_OUT_FOR_DELIVERY, EventKind.SHIPMENT_DELIVERED):
        await handle.signal(ReturnWorkflow.record_event, _scan(input, kind))
    await _rma_when(handle, lambda v: "return_parcel" in _steps(v), "parcel back")
    view = await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(received_via="api"), result_type=ReturnView
    )

    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 13800)
    # At least once mid-return (after the label, before the receipt); how often depends on how the server
    # batches the scans into workflow tasks, which is not this test's business.
    assert _steps(view).count("continue_as_new") >= 1
    assert _steps(view).index("buy_return_label") < _steps(view).index("continue_as_new")
    assert view.messages_sent == [_sent(input, "return-label"), _sent(input, "return-refunded")]
    assert fake_hub.effects.counts["buy_label"] == 1 and fake_hub.effects.counts["refund"] == 1
    first_run = fake_hub.env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    history = await first_run.fetch_history()
    assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    assert (await handle.describe()).typed_search_attributes.get(ORDER_ID) == input.order_id


async def test_the_order_workflow_that_started_the_rma_is_told_how_it_ended(fake_hub: FakeHub) -> None:
    """Started as a child, as the order workflow starts it; the parent receives ``after_sales_closed``."""
    task_queue = f"after-sales-{uuid.uuid4().hex}"
    order_id = unique_id("P")
    input = _input(fake_hub, kind=AfterSalesKind.CLAIM, lines=[INK], claim_reason=ClaimReason.MISSING).model_copy(
        update={"order_workflow_id": order_workflow_id(order_id)}
    )
    fns = activity_functions(
        payment=fake_hub.payments,
        inventory=fake_hub.inventory,
        carrier=fake_hub.carrier,
        notifier=fake_hub.notifier,
        publisher=fake_hub.publisher,
    )
    worker = Worker(
        fake_hub.env.client,
        task_queue=task_queue,
        workflows=[OrderAfterSalesStub, ReturnWorkflow],
        activities=fns,
        interceptors=[ConnectorBoundaryInterceptor()],
        workflow_runner=workflow_runner(fake_hub.env.client.data_converter),
    )
    async with worker:
        outcome = await fake_hub.env.client.execute_workflow(
            OrderAfterSalesStub.run, input, id=order_workflow_id(order_id), task_queue=task_queue
        )
        child = fake_hub.env.client.get_workflow_handle_for(
            ReturnWorkflow.run, return_workflow_id(input.request.rma_id)
        )
        view = await child.result()

    assert outcome == ReturnOutcome(
        rma_id=input.request.rma_id, kind=AfterSalesKind.CLAIM, status=ReturnStatus.REFUNDED, refunded=900
    )
    assert [e.outcome for e in view.timeline if e.step == "tell_order"] == ["succeeded"]
    attributes = (await child.describe()).typed_search_attributes
    assert (attributes.get(ORDER_ID), attributes.get(RETURN_STATUS)) == (input.order_id, "refunded")
