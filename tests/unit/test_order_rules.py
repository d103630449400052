"""The order's decision rules, without Temporal: scan ordering, fulfilment roll-up, refund budgets, what an address
change may touch, what a message speaks of."""

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from domain.backorder import BackorderChoice
from domain.order import Address, OrderLine
from domain.order_view import ActionRequired, CanceledLine, FailureReason
from domain.payment import Payment, ProviderPaymentState
from domain.returns import AfterSalesKind, ReturnOutcome, ReturnStatus
from domain.shipments import ShipmentView
from domain.status import FulfillmentStatus as F
from domain.status import OrderStatus
from notifications.notice import NoticeKind
from workflows.order import rules
from workflows.order.rules import Scan
from workflows.order.state import Authorization, OrderState, RmaAllocation

AT = datetime(2026, 12, 1, tzinfo=UTC)
LINES = [OrderLine(sku="PEN-01", quantity=1, unit_price=4200), OrderLine(sku="INK-07", quantity=3, unit_price=650)]


def _parcel(n: int, status: F, *, captured: bool = True, lines: dict[str, int] | None = None) -> ShipmentView:
    return ShipmentView(
        shipment_no=n,
        reference=f"A-1:shipment:{n}",
        status=status,
        captured=captured,
        lines=[OrderLine(sku=sku, quantity=q, unit_price=100) for sku, q in (lines or {"PEN-01": 1}).items()],
        value=100 * n,
    )


def _captured(n: int, captured: int, refunded: int = 0) -> Authorization:
    payment = Payment(
        payment_id=f"pi_{n}",
        order_id="A-1",
        reference=f"A-1:payment.authorize:{n}",
        state=ProviderPaymentState.CAPTURED,
        currency="EUR",
        authorized=captured,
        captured=captured,
        refunded=refunded,
    )
    return Authorization(n=n, amount=captured, at=AT, payment=payment, ended=True)


@pytest.mark.parametrize(
    ("current", "scanned", "progress", "effect"),
    [
        (F.LABEL_CREATED, F.IN_TRANSIT, 1, Scan.APPLIES),
        (F.OUT_FOR_DELIVERY, F.IN_TRANSIT, 3, Scan.STALE),  # an older scan arriving late
        (F.IN_TRANSIT, F.IN_TRANSIT, 2, Scan.IGNORED),  # the same news again
        (F.DELIVERED, F.EXCEPTION, 4, Scan.IGNORED),  # a delivered parcel moves no more
        (F.RETURNED_TO_SENDER, F.DELIVERED, 4, Scan.IGNORED),
        (F.IN_TRANSIT, F.EXCEPTION, 2, Scan.APPLIES),  # an exception has no rank: it always shows
        (F.EXCEPTION, F.IN_TRANSIT, 2, Scan.APPLIES),  # the same stage again clears an exception
        (F.EXCEPTION, F.LABEL_CREATED, 2, Scan.STALE),  # but not an earlier one
        (F.IN_TRANSIT, F.DELIVERED, 2, Scan.APPLIES),
    ],
)
def test_a_scan_moves_a_parcel_only_forward(current: F, scanned: F, progress: int, effect: Scan) -> None:
    assert rules.scan_effect(current, scanned, progress) is effect


def test_the_order_is_as_far_as_its_least_advanced_live_parcel() -> None:
    assert rules.order_fulfillment([], more_to_ship=True) is F.OPEN
    assert rules.order_fulfillment([_parcel(1, F.CANCELED)], more_to_ship=False) is F.CANCELED
    two = [_parcel(1, F.DELIVERED), _parcel(2, F.IN_TRANSIT), _parcel(3, F.CANCELED)]
    assert rules.order_fulfillment(two, more_to_ship=False) is F.IN_TRANSIT
    assert rules.order_fulfillment([*two, _parcel(4, F.EXCEPTION)], more_to_ship=False) is F.EXCEPTION
    delivered = [_parcel(1, F.DELIVERED), _parcel(2, F.DELIVERED)]
    assert rules.order_fulfillment(delivered, more_to_ship=False) is F.DELIVERED
    assert rules.order_fulfillment(delivered, more_to_ship=True) is F.OPEN  # more is still to come


def test_an_order_with_a_parcel_that_did_not_arrive_is_never_rolled_up_as_delivered() -> None:
    """Issue 14, scenario 3: one parcel delivered and one returned to sender (or lost) is not "delivered"."""
    returned = [_parcel(1, F.DELIVERED), _parcel(2, F.RETURNED_TO_SENDER)]
    assert rules.order_fulfillment(returned, more_to_ship=False) is F.RETURNED_TO_SENDER
    assert rules.order_fulfillment(returned[::-1], more_to_ship=False) is F.RETURNED_TO_SENDER
    assert rules.order_fulfillment([_parcel(1, F.LOST), _parcel(2, F.DELIVERED)], more_to_ship=False) is F.LOST
    assert rules.order_fulfillment([*returned, _parcel(3, F.IN_TRANSIT)], more_to_ship=False) is F.IN_TRANSIT
    assert rules.order_fulfillment(returned, more_to_ship=True) is F.OPEN  # more is still to come


def test_a_scan_naming_no_shipment_is_matched_by_tracking_code_or_to_the_only_live_label() -> None:
    """Issue 14, scenario 5: never the newest label by default."""
    one, two = _parcel(1, F.IN_TRANSIT), _parcel(2, F.LABEL_CREATED)
    one, two = (x.model_copy(update={"tracking_code": f"TRK{x.shipment_no}"}) for x in (one, two))
    attempts = [one.reference, two.reference]
    assert rules.parcel_of_scan([one, two], attempts, "TRK1") == one.reference
    assert rules.parcel_of_scan([one, two], attempts, None) is None  # two parcels: a guess
    assert rules.parcel_of_scan([one, two], attempts, "TRK9") is None
    voided = one.model_copy(update={"status": F.CANCELED})
    assert rules.parcel_of_scan([voided, two], attempts, None) == two.reference  # the only live label
    assert rules.parcel_of_scan([voided, two], attempts, "TRK1") == voided.reference  # skipped later: voided
    assert rules.parcel_of_scan([two], [two.reference], "TRK9") is None  # not its tracking code
    assert rules.parcel_of_scan([], ["A-1:shipment:1"], "TRK9") == "A-1:shipment:1"  # its label is being bought
    assert rules.parcel_of_scan([], [], None) is None


@pytest.mark.parametrize("wanted", list(OrderStatus))
def test_requires_action_is_sticky_while_a_person_has_something_to_do(wanted: OrderStatus) -> None:
    """Issue 14, scenario 16: a delivery (or a cancellation, or a settled choice) never hides an undo step left to a
    person; without one, the status wanted applies."""
    assert rules.order_status(wanted, [ActionRequired.LABEL_VOID_REFUSED]) is OrderStatus.REQUIRES_ACTION
    assert rules.order_status(wanted, []) is wanted


def test_once_nothing_waits_for_a_person_the_order_takes_the_status_its_story_gave_it() -> None:
    """Issue 14, scenarios 13 and 16, after the operator's retry: cancelled when nothing left, on its way while a
    parcel moves or more is owed, completed otherwise."""
    address = Address(line1="1 rue A", city="Paris", postal_code="75001", country="FR")
    canceled = OrderState(address=address, failure_reason=FailureReason.OUT_OF_STOCK)
    assert rules.settled_status(canceled, more_to_ship=False) is OrderStatus.CANCELED
    moving = OrderState(address=address, shipments=[_parcel(1, F.IN_TRANSIT)])
    assert rules.settled_status(moving, more_to_ship=False) is OrderStatus.CONFIRMED
    arrived = OrderState(
        address=address, shipments=[_parcel(1, F.DELIVERED)], failure_reason=FailureReason.CAPTURE_FAILED
    )
    assert rules.settled_status(arrived, more_to_ship=True) is OrderStatus.CONFIRMED
    assert rules.settled_status(arrived, more_to_ship=False) is OrderStatus.COMPLETED  # the rest was dropped


def test_parcels_moving_are_those_that_left_and_have_not_arrived() -> None:
    parcels = [_parcel(1, F.IN_TRANSIT), _parcel(2, F.LABEL_CREATED, captured=False), _parcel(3, F.DELIVERED)]
    assert [x.shipment_no for x in rules.parcels_moving(parcels)] == [1]


def test_values_and_lines_at_the_order_prices() -> None:
    units = Counter({"INK-07": 2, "PEN-01": 1})
    assert rules.value_of(units, LINES) == 4200 + 2 * 650
    assert rules.priced(units, LINES) == [
        OrderLine(sku="INK-07", quantity=2, unit_price=650),
        OrderLine(sku="PEN-01", quantity=1, unit_price=4200),
    ]


def test_a_refund_budget_is_taken_oldest_first_net_of_refunds_and_of_open_rmas() -> None:
    authorizations = [_captured(1, 1000, refunded=200), _captured(2, 500)]
    assert rules.refund_budget(900, authorizations, []) == {1: 800, 2: 100}
    open_rma = RmaAllocation(lines={"PEN-01": 1}, budget={1: 700})
    assert rules.refund_budget(900, authorizations, [open_rma]) == {1: 100, 2: 500}
    closed = RmaAllocation(
        lines={"PEN-01": 1},
        budget={1: 700},
        outcome=ReturnOutcome(rma_id="R-1", kind=AfterSalesKind.RETURN, status=ReturnStatus.EXPIRED),
    )
    assert rules.refund_budget(900, authorizations, [closed]) == {1: 800, 2: 100}
    assert rules.refund_budget(5000, authorizations, []) == {1: 800, 2: 500}  # never more than was captured
    budgeted = rules.budgeted(_captured(1, 1000).payment, 300)  # type: ignore[arg-type]
    assert budgeted.refundable == 300


def _closed(kind: AfterSalesKind, lines: dict[str, int], **outcome: object) -> RmaAllocation:
    return RmaAllocation(
        lines=lines,
        budget={},
        outcome=ReturnOutcome.model_validate({"rma_id": "R-1", "kind": kind, "status": ReturnStatus.CLOSED, **outcome}),
    )


def test_what_may_still_come_back_is_counted_per_unit() -> None:
    """Issue 14, scenario 24: a partial receipt leaves the rest returnable; replacements can be claimed."""
    delivered = Counter({"PEN-01": 1, "INK-07": 2})
    assert rules.returnable(delivered, [RmaAllocation(lines={"INK-07": 2}, budget={})]) == Counter({"PEN-01": 1})
    partial = _closed(
        AfterSalesKind.RETURN, {"INK-07": 2}, returned=[{"sku": "INK-07", "quantity": 1, "disposition": "restock"}]
    )
    assert rules.returnable(delivered, [partial]) == Counter({"PEN-01": 1, "INK-07": 1})
    expired = _closed(AfterSalesKind.RETURN, {"INK-07": 2}, status=ReturnStatus.EXPIRED)
    assert rules.returnable(delivered, [expired]) == delivered
    exchanged = _closed(AfterSalesKind.EXCHANGE, {"PEN-01": 1}, replacement_shipped=True)
    assert rules.returnable(delivered, [exchanged]) == delivered  # the replacement may be claimed or returned
    refunded_claim = _closed(AfterSalesKind.CLAIM, {"INK-07": 1}, refunded=650)
    declined_claim = _closed(AfterSalesKind.CLAIM, {"PEN-01": 1}, status=ReturnStatus.DECLINED)
    assert rules.returnable(delivered, [refunded_claim, declined_claim]) == Counter({"PEN-01": 1, "INK-07": 1})


def test_an_address_change_touches_parcels_not_labelled_or_not_yet_scanned() -> None:
    assert rules.address_applies([_parcel(1, F.LABEL_CREATED)], Counter())
    scanned = [_parcel(1, F.IN_TRANSIT)]
    assert not rules.address_applies(scanned, Counter())
    assert rules.address_applies(scanned, Counter({"INK-07": 1}))  # more to ship, to the new address
    labelled = [_parcel(1, F.IN_TRANSIT), _parcel(2, F.IN_TRANSIT, captured=False, lines={"INK-07": 1})]
    assert not rules.address_applies(labelled, Counter({"INK-07": 1}))  # what is left is already with the carrier


def test_labels_are_settled_when_every_label_set_out_to_buy_is_bought() -> None:
    assert rules.labels_settled([_parcel(1, F.LABEL_CREATED)], ["A-1:shipment:1"])
    assert not rules.labels_settled([_parcel(1, F.LABEL_CREATED)], ["A-1:shipment:1", "A-1:shipment:2"])


def test_a_message_speaks_of_the_parcels_shipped_or_of_what_is_still_owed() -> None:
    parcels = [_parcel(1, F.IN_TRANSIT), _parcel(2, F.IN_TRANSIT)]
    shipped = rules.notice_total(NoticeKind.ORDER_SHIPPED, ["A-1:shipment:2"], parcels, 10_000, [])
    assert shipped == 200
    dropped = [CanceledLine(sku="INK-07", quantity=1, amount=650, reason=FailureReason.CANCELED_MISSING_ITEMS)]
    assert rules.notice_total(NoticeKind.ORDER_CONFIRMED, None, parcels, 10_000, dropped) == 9350


def test_a_promised_date_ends_at_midnight_utc() -> None:
    assert rules.end_of_day(date(2026, 12, 10)) == datetime(2026, 12, 11, tzinfo=UTC)
    assert rules.end_of_day(None) is None


@pytest.mark.parametrize(
    ("current", "new", "still_missing", "parcel_started", "refused"),
    [
        (BackorderChoice.WAIT_FOR_ALL, BackorderChoice.SHIP_AVAILABLE, True, False, None),
        (BackorderChoice.WAIT_FOR_ALL, BackorderChoice.CANCEL_MISSING, True, False, None),
        (BackorderChoice.SHIP_AVAILABLE, BackorderChoice.CANCEL_MISSING, True, True, None),
        (BackorderChoice.SHIP_AVAILABLE, BackorderChoice.WAIT_FOR_ALL, True, True, "a parcel has left"),
        (BackorderChoice.SHIP_AVAILABLE, BackorderChoice.SHIP_AVAILABLE, True, False, "already decided"),
        (BackorderChoice.CANCEL_MISSING, BackorderChoice.WAIT_FOR_ALL, False, False, "already decided"),
        (BackorderChoice.WAIT_FOR_ALL, BackorderChoice.SHIP_AVAILABLE, False, False, "nothing is waiting"),
    ],
)
def test_a_backorder_choice_changes_while_nothing_of_it_was_acted_on(
    current: BackorderChoice, new: BackorderChoice, still_missing: bool, parcel_started: bool, refused: str | None
) -> None:
    """Issue 14, scenario 10: dropped items stay dropped; after a parcel left only what waits can be dropped."""
    refusal = rules.backorder_change_refused(current, new, still_missing=still_missing, parcel_started=parcel_started)
    assert (refusal is None) if refused is None else (refusal is not None and refused in refusal)
