"""The RMA's pure rules (``workflows/returns/rules.py``): what a receipt may count, where the items came back."""

from domain.returns import Disposition, InspectedLine, ReturnReceipt, ReturnRequest
from workflows.returns.rules import capped_receipt, received_in_store

DAMAGED = Disposition.DAMAGED


def _line(sku: str, quantity: int, disposition: Disposition = Disposition.RESTOCK) -> InspectedLine:
    return InspectedLine(sku=sku, quantity=quantity, disposition=disposition)


def test_a_sku_listed_twice_counts_once_up_to_what_was_requested() -> None:
    """Issue 14, scenario 25."""
    kept, left_out = capped_receipt({"PEN-01": 1}, [_line("PEN-01", 1), _line("PEN-01", 1)])
    assert (kept, left_out) == ([_line("PEN-01", 1)], [_line("PEN-01", 1)])


def test_lines_of_one_condition_add_up_and_conditions_share_what_was_requested_first_listed_first() -> None:
    lines = [_line("INK-07", 1), _line("INK-07", 2, DAMAGED), _line("INK-07", 1)]
    kept, left_out = capped_receipt({"INK-07": 3}, lines)
    assert kept == [_line("INK-07", 2), _line("INK-07", 1, DAMAGED)]
    assert left_out == [_line("INK-07", 1, DAMAGED)]


def test_a_sku_not_requested_counts_nothing_and_a_receipt_within_the_request_is_kept_whole() -> None:
    assert capped_receipt({"PEN-01": 1}, [_line("CAP-02", 1)]) == ([], [_line("CAP-02", 1)])
    whole = [_line("PEN-01", 1), _line("INK-07", 2, DAMAGED)]
    assert capped_receipt({"PEN-01": 1, "INK-07": 2}, whole) == (whole, [])


def test_items_come_back_in_store_when_the_rma_or_the_receipt_says_so() -> None:
    """Issue 14, scenario 30."""
    lines = [{"sku": "PEN-01", "quantity": 1}]
    web = ReturnRequest(rma_id="R-1", lines=lines)
    store = ReturnRequest(rma_id="R-1", lines=lines, channel="store")
    assert not received_in_store(web, ReturnReceipt(received_via="api"))
    assert received_in_store(web, ReturnReceipt(received_via="store"))
    assert received_in_store(store, ReturnReceipt())
