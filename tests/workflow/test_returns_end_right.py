"""Issue 14, scenarios 18-24: returns, exchanges and claims that used to end wrong (a label message lost, a refund
refused, a receipt racing the expiry, a parcel that never arrives, an exchange never sent back, a claim ended too
early, quantities counted per line instead of per unit). Each RMA is started directly, as in test_returns.py."""

from domain.contract import ReturnUpdate
from domain.returns import InspectedLine, ResendLabel, ReturnReceipt, ReturnStatus, ReturnView
from tests.workflow.conftest import FakeHub
from tests.workflow.test_returns import INK, PEN, _input, _rma_when, _sent, _start
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
    assert stuck.messages_sent == []
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) == "label could not be sent"

    del fake_hub.effects.reject["send"]  # the customer's contact details fixed
    view = await handle.execute_update(ReturnUpdate.RESEND_LABEL, ResendLabel(), result_type=ReturnView)

    assert view.status is ReturnStatus.LABEL_ISSUED
    assert view.messages_sent == [_sent(input, "return-label")]
    assert (await handle.describe()).typed_search_attributes.get(ACTION_REASON) is None
    done = await handle.execute_update(ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(), result_type=ReturnView)
    assert (done.status, done.refunded) == (ReturnStatus.REFUNDED, 13800)


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
