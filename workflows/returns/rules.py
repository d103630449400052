"""The RMA's decision rules that need no Temporal: what a receipt may count, where the items were handed in. Pure
functions, unit-tested without a server (``tests/unit/test_return_rules.py``)."""

from collections import Counter
from collections.abc import Mapping

from domain.returns import InspectedLine, ReturnReceipt, ReturnRequest


def capped_receipt(
    requested: Mapping[str, int], lines: list[InspectedLine]
) -> tuple[list[InspectedLine], list[InspectedLine]]:
    """The lines a receipt may count, and those left out. Lines of one SKU and condition are added up (a warehouse
    may list a SKU once per unit or per box); each SKU counts no more units than the RMA requested, the first
    listed first; a SKU the RMA does not name counts nothing."""
    totals: dict[tuple[str, str], InspectedLine] = {}
    for line in lines:
        key = (line.sku, line.disposition.value)
        known = totals.get(key)
        totals[key] = line if known is None else known.model_copy(update={"quantity": known.quantity + line.quantity})
    counted: Counter[str] = Counter()
    kept: list[InspectedLine] = []
    left_out: list[InspectedLine] = []
    for line in totals.values():
        room = requested.get(line.sku, 0) - counted[line.sku]
        take = min(room, line.quantity)
        if take > 0:
            kept.append(line.model_copy(update={"quantity": take}))
            counted[line.sku] += take
        if take < line.quantity:
            left_out.append(line.model_copy(update={"quantity": line.quantity - take}))
    return kept, left_out


def received_in_store(request: ReturnRequest, receipt: ReturnReceipt) -> bool:
    """The items were handed in at a store: the RMA was opened for a store drop-off, or the receipt says so."""
    return request.received_in_store or request.channel == "store" or receipt.received_via == "store"
