"""ReturnWorkflow over in-memory ports: what a receipt may refund, and returns handed in at a store (issue 14)."""

import uuid
from datetime import UTC, datetime

from domain.contract import ReturnUpdate
from domain.keys import after_sales_key
from domain.returns import (
    Disposition,
    InspectedLine,
    ReturnedLine,
    ReturnReceipt,
    ReturnStatus,
    ReturnView,
    WarehouseReceipt,
)
from domain.status import FulfillmentStatus
from tests.workflow.conftest import FakeHub
from tests.workflow.test_returns import INK, PEN, _input, _rma_when, _sent, _start
from workflows.returns import ReturnWorkflow


def _warehouse_receipt(order_id: str, rma_id: str, lines: list[InspectedLine]) -> WarehouseReceipt:
    return WarehouseReceipt(
        event_id=f"erp:{uuid.uuid4().hex}",
        order_id=order_id,
        rma_id=rma_id,
        receipt_id=after_sales_key(order_id, rma_id, "receipt"),
        lines=lines,
        occurred_at=datetime.now(UTC),
    )


async def test_a_warehouse_receipt_listing_a_sku_twice_refunds_no_more_units_than_were_requested(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 25: the ERP lists the one pen of the return twice; one pen is refunded, and the ERP is
    told of one pen."""
    input = _input(fake_hub, lines=[PEN, INK], payments=[13800])
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")

    twice = [
        InspectedLine(sku="PEN-01", quantity=1),
        InspectedLine(sku="PEN-01", quantity=1, disposition=Disposition.DAMAGED),
        InspectedLine(sku="INK-07", quantity=1),
    ]
    await handle.signal(
        ReturnWorkflow.record_warehouse_receipt, _warehouse_receipt(input.order_id, input.request.rma_id, twice)
    )
    view = await handle.result()

    assert view.returned == [
        ReturnedLine(sku="PEN-01", quantity=1, disposition=Disposition.RESTOCK),
        ReturnedLine(sku="INK-07", quantity=1, disposition=Disposition.RESTOCK),
    ]
    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 12900 + 450)
    receipt = fake_hub.inventory.receipts[after_sales_key(input.order_id, input.request.rma_id, "receipt")]
    assert sum(line.quantity for line in receipt.lines if line.sku == "PEN-01") == 1
    assert "1 x PEN-01 (damaged) more than requested, left out" in [e.detail for e in view.timeline]


async def test_a_store_return_buys_no_label_and_tells_the_customer_to_bring_it_to_the_store(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 30: a return opened with channel ``store`` (no other flag) buys no carrier label and the
    message says to bring the items to the store, in the customer's language; the receipt then refunds it."""
    input = _input(fake_hub, lines=[PEN], channel="store", locale="en")
    handle = await _start(fake_hub, input)

    told = await _rma_when(handle, lambda v: bool(v.messages_sent), "customer told")
    assert told.messages_sent == [_sent(input, "return-in-store")]
    assert told.return_shipment is None and fake_hub.effects.counts["buy_label"] == 0
    mail = fake_hub.notifier.sent[_sent(input, "return-in-store")]
    text = mail.text.lower()
    assert "bring" in text and "store" in text and "carrier" not in text

    view = await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(received_via="store", location="Lyon"), result_type=ReturnView
    )
    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 12900)
    assert fake_hub.effects.counts["buy_label"] == 0 and fake_hub.effects.counts["void_label"] == 0


async def test_a_store_return_is_told_in_french_too(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 30: the "bring it to the store" message exists in both languages."""
    input = _input(fake_hub, lines=[PEN], channel="store", locale="fr-FR")
    handle = await _start(fake_hub, input)

    await _rma_when(handle, lambda v: bool(v.messages_sent), "customer told")
    mail = fake_hub.notifier.sent[_sent(input, "return-in-store")]
    assert "magasin" in mail.text and "transporteur" not in mail.text
    await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(received_via="store"), result_type=ReturnView
    )
    await handle.result()


async def test_an_unused_return_label_is_voided_when_the_items_are_received_in_store(fake_hub: FakeHub) -> None:
    """Issue 14, scenario 30: a web return whose customer brought the items to a store instead of posting them:
    the label they never used is voided, so the retailer does not pay for it."""
    input = _input(fake_hub, lines=[PEN])
    handle = await _start(fake_hub, input)
    await _rma_when(handle, lambda v: v.status is ReturnStatus.LABEL_ISSUED, "label issued")

    view = await handle.execute_update(
        ReturnUpdate.RECORD_RECEIPT, ReturnReceipt(received_via="store", location="Lyon"), result_type=ReturnView
    )

    assert (view.status, view.refunded) == (ReturnStatus.REFUNDED, 12900)
    assert fake_hub.effects.counts["void_label"] == 1
    label = after_sales_key(input.order_id, input.request.rma_id, "return-label")
    assert label in fake_hub.carrier.voided
    assert view.return_shipment is not None and view.return_shipment.status is FulfillmentStatus.CANCELED
