"""Issue 14, scenarios 18-24: returns, exchanges and claims that used to end wrong (a label message lost, a refund
refused, a receipt racing the expiry, a parcel that never arrives, an exchange never sent back, a claim ended too
early, quantities counted per line instead of per unit). Each RMA is started directly, as in test_returns.py."""

from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus

from domain.contract import ReturnUpdate
from domain.events import EventKind
from domain.keys import after_sales_key
from domain.returns import (
    AfterSalesKind,
    ClaimReason,
    InspectedLine,
    ResendLabel,
    ReturnPolicy,
    ReturnReceipt,
    ReturnStatus,
    ReturnView,
    ReturnWorkflowInput,
    UnreturnedExchange,
)
from domain.status import FulfillmentStatus
from tests.workflow.conftest import FakeHub
from tests.workflow.test_returns import FAST, INK, PEN, _input, _refused, _rma_when, _scan, _sent, _start
from workflows.returns import ReturnWorkflow
from workflows.search_attributes import ACTION_REASON


async def test_a_return_label_that_cannot_be_sent_waits_in_requires_action_until_it_is_resent(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 18: the label's message is refused for good; the RMA says so at once (not at the
    reminder), waits for a person, and the documented action (resend) puts it back on its way."""
    fake_hub.effects.reject["send"] = "invalid_recipient"
    input = _input(fake_hub)
    handle = await _start(fake_hub, input)

    stuck = await _rma_when(handle, lambda v: v.status is ReturnStatus.REQUIRES_ACTION, "requires action")
    assert stuck.messages_sent == [] and stuck.action_reason == "label could not be sent"
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "label could not be sent"

    del fake_hub.effects.reject["send"]  # the customer's contact details fixed
    view = await handle.execute_update(ReturnUpdate.RESEND_LABEL, ResendLabel(), result_type=ReturnView)

    assert view.status is ReturnStatus.LABEL_ISSUED and view.action_reason is None
    assert view.messages_sent == [_sent(input, "return-label")]
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) is None
    done = await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(), result_type=ReturnView)
    assert (done.status, done.refunded) == (ReturnStatus.REFUNDED, 13800)


async def test_an_exchange_whose_first_message_failed_tells_the_whole_story_when_the_label_is_resent(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 18, for an exchange: the label went in the exchange's one message, which never went out;
    the resend sends that message (the replacement's tracking with the label), not the label alone."""
    fake_hub.effects.reject["send"] = "invalid_recipient"
    input = _input(fake_hub, kind=AfterSalesKind.EXCHANGE, lines=[PEN], locale="en")
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.REQUIRES_ACTION, "requires action")

    del fake_hub.effects.reject["send"]
    view = await handle.execute_update(ReturnUpdate.RESEND_LABEL, ResendLabel(), result_type=ReturnView)

    assert view.status is ReturnStatus.LABEL_ISSUED
    assert view.messages_sent == [_sent(input, "exchange-confirmed")]
    text = fake_hub.notifier.sent[_sent(input, "exchange-confirmed")].text
    assert view.replacement_shipment is not None and view.replacement_shipment.tracking_code
    assert view.replacement_shipment.tracking_code in text and "http://label" in text


async def test_a_refund_the_provider_refuses_is_told_as_delayed_and_left_for_a_person(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 19 (first half): nothing could be refunded; the RMA must not close quietly."""
    input = _input(fake_hub, lines=[PEN], received_in_store=True)
    fake_hub.payments.refuse_refunds.add(input.payments[0].reference)
    handle = await _start(fake_hub, input)

    view = await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(), result_type=ReturnView)

    assert (view.status, view.refunded) == (ReturnStatus.REQUIRES_ACTION, 0)
    assert view.messages_sent == [_sent(input, "refund-delayed")]
    text = fake_hub.notifier.sent[_sent(input, "refund-delayed")].text
    assert "129,00\u00a0€" in text and "retardé" in text and "remboursé 129" not in text
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "refund failed"
    assert (await handle.result()).status is ReturnStatus.REQUIRES_ACTION


async def test_a_refund_refused_on_one_of_two_payments_tells_what_was_refunded_and_what_is_delayed(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 19 (second half): 38 EUR went back, 100 EUR was refused; never "refunded 138"."""
    input = _input(fake_hub, payments=[10000, 3800], locale="en", received_in_store=True)
    fake_hub.payments.refuse_refunds.add(input.payments[0].reference)
    handle = await _start(fake_hub, input)

    receipt = ReturnReceipt(lines=[InspectedLine(sku=PEN.sku, quantity=1), InspectedLine(sku=INK.sku, quantity=2)])
    view = await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, receipt, result_type=ReturnView)

    assert (view.status, view.refunded) == (ReturnStatus.REQUIRES_ACTION, 3800)
    assert view.messages_sent == [_sent(input, "refund-delayed")]
    text = fake_hub.notifier.sent[_sent(input, "refund-delayed")].text
    assert "refunded €38.00" in text and "remaining €100.00" in text and "€138.00" not in text
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "refund failed"


async def test_a_store_receipt_recorded_while_the_expiry_voids_the_label_is_refunded_and_a_resend_refused(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 20: the expiry has begun (its void retried by the carrier) when the associate records the
    goods handed in at the store, and the customer asks for the label again. The receipt is honoured (refunded),
    the resend refused with the reason: neither is accepted and then ignored."""
    fake_hub.effects.flaky["void_label"] = 3  # the void takes a few seconds of retries: the window to race
    policy = ReturnPolicy(reminder_after=timedelta(hours=1), expires_after=timedelta(seconds=2))
    input = _input(fake_hub, policy=policy)
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: "expired" in [e.step for e in v.timeline], "expiry begun")

    refusal = await _refused(handle.execute_update(ReturnUpdate.RESEND_LABEL, ResendLabel(), result_type=ReturnView))
    assert refusal == "the return has expired: its label is being cancelled"
    view = await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(received_via="store"), result_type=ReturnView
    )

    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 13800)
    assert fake_hub.effects.counts["void_label"] == 1 and fake_hub.effects.counts["refund"] == 1
    assert view.messages_sent == [_sent(input, "return-label"), _sent(input, "return-refunded")]


async def test_a_claim_resolved_by_replacement_ends_when_the_replacement_is_delivered(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 23: shipping the replacement does not settle the claim; its delivery does."""
    input = _input(
        fake_hub, kind=AfterSalesKind.CLAIM, lines=[INK], claim_reason=ClaimReason.DAMAGED, resolution="replace"
    )
    handle = await _start(fake_hub, input)

    shipped = await _rma_when(handle, lambda v: bool(v.messages_sent), "replacement shipped and told")
    assert shipped.status is ReturnStatus.REPLACEMENT_SHIPPED and not shipped.finished
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_IN_TRANSIT, "replacement-label"))
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_DELIVERED, "replacement-label"))
    view = await handle.result()

    assert (view.status, view.refunded) == (ReturnStatus.EXCHANGED, 0)
    assert view.replacement_shipment is not None
    assert view.replacement_shipment.status is FulfillmentStatus.DELIVERED
    assert view.messages_sent == [_sent(input, "replacement-shipped")]


async def test_a_claim_whose_replacement_is_never_delivered_ends_requires_action(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 23: the wait for the replacement's delivery has a deadline, and then a person."""
    policy = FAST.model_copy(update={"replacement_delivery_limit": timedelta(seconds=2)})
    input = _input(
        fake_hub,
        kind=AfterSalesKind.CLAIM,
        lines=[INK],
        claim_reason=ClaimReason.DAMAGED,
        resolution="replace",
        policy=policy,
    )
    handle = await _start(fake_hub, input)

    view = await handle.result()

    assert view.status is ReturnStatus.REQUIRES_ACTION and view.refunded == 0
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "replacement not delivered"


async def test_a_return_parcel_in_transit_that_never_arrives_is_taken_as_lost_and_told_once(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 21: scanned in transit, then nothing: the wait has a deadline, then a person; the
    customer is told once; the receipt (the documented action, once the parcel turns up) settles it."""
    policy = FAST.model_copy(update={"return_transit_limit": timedelta(seconds=2)})
    input = _input(fake_hub, policy=policy, locale="en")
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_IN_TRANSIT))

    lost = await _rma_when(
        handle, lambda v: v.status is ReturnStatus.REQUIRES_ACTION and len(v.messages_sent) == 2, "lost, told"
    )

    assert lost.messages_sent == [_sent(input, "return-label"), _sent(input, "return-not-arrived")]
    assert "has not reached us" in fake_hub.notifier.sent[_sent(input, "return-not-arrived")].text
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "return parcel lost"
    view = await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(), result_type=ReturnView)
    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 13800)
    assert view.messages_sent[-1] == _sent(input, "return-refunded") and len(view.messages_sent) == 3
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) is None


async def test_a_return_parcel_scanned_back_to_sender_needs_a_person_at_once(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 21: in transit, then returned to sender (to the customer): no waiting for ever."""
    input = _input(fake_hub)  # the transit deadline (21 days) is not what ends this wait
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_IN_TRANSIT))
    await handle.signal(ReturnWorkflow.record_event, _scan(input, EventKind.SHIPMENT_RETURNED_TO_SENDER))

    back = await _rma_when(
        handle, lambda v: v.status is ReturnStatus.REQUIRES_ACTION and len(v.messages_sent) == 2, "sent back, told"
    )

    assert back.messages_sent == [_sent(input, "return-label"), _sent(input, "return-not-arrived")]
    assert "vous le rapporte" in fake_hub.notifier.sent[_sent(input, "return-not-arrived")].text
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "return parcel sent back"
    assert fake_hub.effects.counts["void_label"] == 0  # the label was used: nothing to void


def _unreturned_exchange(fake_hub: FakeHub, choice: UnreturnedExchange) -> ReturnWorkflowInput:
    policy = ReturnPolicy(
        reminder_after=timedelta(hours=1), expires_after=timedelta(seconds=2), unreturned_exchange=choice
    )
    input = _input(fake_hub, kind=AfterSalesKind.EXCHANGE, lines=[PEN], policy=policy, locale="en")
    return input.model_copy(update={"payment_method": "pm_card_visa"})


async def test_an_exchange_whose_item_never_comes_back_is_flagged_by_default(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 22: the replacement shipped, the wrong item never came back: a person decides."""
    assert ReturnPolicy().unreturned_exchange is UnreturnedExchange.FLAG
    input = _unreturned_exchange(fake_hub, UnreturnedExchange.FLAG)
    handle = await _start(fake_hub, input)

    view = await handle.result()

    assert (view.status, view.charged) == (ReturnStatus.REQUIRES_ACTION, 0)
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "exchanged item not returned"
    assert view.messages_sent == [_sent(input, "exchange-confirmed"), _sent(input, "return-expired")]


async def test_an_exchange_whose_item_never_comes_back_is_charged_when_the_retailer_says_so(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 22: ``unreturned_exchange=charge``: the replacement's value, once, under the RMA's key."""
    input = _unreturned_exchange(fake_hub, UnreturnedExchange.CHARGE)
    handle = await _start(fake_hub, input)

    view = await handle.result()

    assert (view.status, view.charged, view.refunded) == (ReturnStatus.EXPIRED, 12900, 0)
    charge = fake_hub.payments.by_key[after_sales_key(input.order_id, input.request.rma_id, "unreturned-charge")]
    assert charge.captured == 12900
    assert (fake_hub.effects.counts["authorize"], fake_hub.effects.counts["capture"]) == (1, 1)
    assert view.messages_sent == [_sent(input, "exchange-confirmed"), _sent(input, "exchange-charged")]
    assert "€129.00" in fake_hub.notifier.sent[_sent(input, "exchange-charged")].text


async def test_an_exchange_whose_item_never_comes_back_is_absorbed_with_a_note(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 22: ``unreturned_exchange=absorb``: the retailer writes it off, on the timeline."""
    input = _unreturned_exchange(fake_hub, UnreturnedExchange.ABSORB)
    view = await (await _start(fake_hub, input)).result()

    assert (view.status, view.charged) == (ReturnStatus.EXPIRED, 0)
    assert "unreturned_exchange" in [e.step for e in view.timeline]
    assert fake_hub.effects.counts["authorize"] == 0
