"""The order's decision rules that need no Temporal: which carrier scan moves a parcel, what the order's
fulfilment is, what an RMA may refund, what an address change may still touch, what a message speaks of. Pure
functions over the state, unit-tested without a server (``tests/unit/test_order_rules.py``)."""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from domain.backorder import BackorderChoice
from domain.order import OrderLine
from domain.order_view import ActionRequired, CanceledLine
from domain.payment import Payment
from domain.returns import AfterSalesKind
from domain.shipments import ShipmentView
from domain.shipping import TrackingStatus
from domain.status import FulfillmentStatus, OrderStatus
from notifications.notice import NoticeKind
from workflows.order.state import Authorization, OrderState, RmaAllocation

UNDELIVERED = (FulfillmentStatus.RETURNED_TO_SENDER, FulfillmentStatus.LOST)
"""A parcel that left and will not reach the customer."""
PARCEL_ENDS = (FulfillmentStatus.DELIVERED, *UNDELIVERED, FulfillmentStatus.CANCELED)
"""A parcel in one of these moves no more."""

# How far along a parcel is. Scans arrive unordered: one that is not further along than what we know is stale.
# An exception has no rank of its own: the next progress scan (even at the same stage) clears it.
PROGRESS = {
    FulfillmentStatus.OPEN: 0,
    FulfillmentStatus.LABEL_CREATED: 1,
    FulfillmentStatus.IN_TRANSIT: 2,
    FulfillmentStatus.OUT_FOR_DELIVERY: 3,
    FulfillmentStatus.DELIVERED: 4,
    FulfillmentStatus.RETURNED_TO_SENDER: 4,
    FulfillmentStatus.LOST: 4,
    FulfillmentStatus.CANCELED: 4,
}

FULFILLMENT_BY_TRACKING = {
    TrackingStatus.LABEL_CREATED: FulfillmentStatus.LABEL_CREATED,
    TrackingStatus.IN_TRANSIT: FulfillmentStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: FulfillmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP: FulfillmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: FulfillmentStatus.DELIVERED,
    TrackingStatus.RETURNING_TO_SENDER: FulfillmentStatus.RETURNED_TO_SENDER,
    TrackingStatus.EXCEPTION: FulfillmentStatus.EXCEPTION,
    TrackingStatus.CANCELLED: FulfillmentStatus.CANCELED,
}
"""What the carrier's answer to a tracking poll means for the parcel."""

SUPERSEDED_BY_CANCELLATION = frozenset(
    {
        NoticeKind.ORDER_CONFIRMED,
        NoticeKind.BACKORDER_DECIDED,
        NoticeKind.ORDER_SHIPPED,
        NoticeKind.ORDER_DELAYED,
        NoticeKind.ORDER_DELIVERED,
    }
)
"""Messages that a cancellation makes untrue: never sent once the order is cancelled."""

MUST_BE_TOLD = frozenset(
    {
        NoticeKind.ORDER_CANCELED,
        NoticeKind.ITEMS_CANCELED,
        NoticeKind.PARCEL_UNDELIVERED,
        NoticeKind.REFUND_DELAYED,
    }
)
"""Messages that tell the customer something went wrong with what they paid for (the order or items dropped, a parcel
lost or sent back, a refund delayed): nothing else will tell them, so one the provider refuses waits for a person
(``customer not told``) and the operator's retry sends it again. The others are on the timeline only: the parcel
arrives whether or not "confirmed" or "shipped" went out, the tracking is on the order's page, and the next message
(delivered, delayed) still goes out."""


class Scan(Enum):
    """What a scan does to a parcel we know."""

    IGNORED = "ignored"
    """The parcel has ended, or is already there: nothing to say."""
    STALE = "stale"
    """Not further along than what we know: dropped, and said so on the timeline."""
    APPLIES = "applies"


def scan_effect(current: FulfillmentStatus, scanned: FulfillmentStatus, progress: int) -> Scan:
    """What ``scanned`` does to a parcel at ``current``, ``progress`` being how far it got before an exception."""
    if current in PARCEL_ENDS or scanned is current:
        return Scan.IGNORED
    if scanned is not FulfillmentStatus.EXCEPTION:
        known = PROGRESS[current] if current is not FulfillmentStatus.EXCEPTION else progress
        if PROGRESS[scanned] < known or (PROGRESS[scanned] == known and current is not FulfillmentStatus.EXCEPTION):
            return Scan.STALE
    return Scan.APPLIES


def order_status(wanted: OrderStatus, action_required: list[ActionRequired]) -> OrderStatus:
    """The order's status once ``wanted`` applies: ``requires_action`` is sticky while a person still has something
    to do (a label to void by hand …); a delivery, a cancellation or a settled choice never hides it."""
    return OrderStatus.REQUIRES_ACTION if action_required else wanted


def settled_status(state: OrderState, more_to_ship: bool) -> OrderStatus:
    """What an order's status is once nothing is left for a person: cancelled when nothing left, completed when
    every parcel that left has reached its end and nothing more is owed, confirmed while it is on its way."""
    if state.failure_reason is not None and not state.shipped_any:
        return OrderStatus.CANCELED
    if more_to_ship or parcels_moving(state.shipments):
        return OrderStatus.CONFIRMED
    return OrderStatus.COMPLETED


def order_fulfillment(shipments: list[ShipmentView], more_to_ship: bool) -> FulfillmentStatus:
    """The order's fulfilment is its least advanced live parcel's (all delivered → delivered); an exception on any
    parcel shows; parcels all at their end while more is still to ship → open; all at their end and one of them
    did not arrive (returned to sender, lost) → that, never ``delivered``."""
    live = [x for x in shipments if x.status is not FulfillmentStatus.CANCELED]
    if not live:
        return FulfillmentStatus.CANCELED if shipments else FulfillmentStatus.OPEN
    if any(x.status is FulfillmentStatus.EXCEPTION for x in live):
        return FulfillmentStatus.EXCEPTION
    if all(x.status in PARCEL_ENDS for x in live):
        if more_to_ship:
            return FulfillmentStatus.OPEN  # a parcel has arrived, more is still to come
        undelivered = [x for x in live if x.status in UNDELIVERED]
        if undelivered:
            return undelivered[0].status
    return min(live, key=lambda x: PROGRESS[x.status]).status


def parcel_of_scan(shipments: list[ShipmentView], label_attempts: list[str], tracking_code: str | None) -> str | None:
    """The parcel a carrier scan that names no shipment reference is about: the one with its tracking code, or else
    the order's only live label (bought or being bought); ``None`` when that would be a guess between parcels."""
    if tracking_code:
        match = next((x.reference for x in shipments if x.tracking_code == tracking_code), None)
        if match is not None:
            return match
    voided = {x.reference for x in shipments if x.status is FulfillmentStatus.CANCELED}
    live = [reference for reference in label_attempts if reference not in voided]
    if len(live) != 1:
        return None
    bought = next((x for x in shipments if x.reference == live[0]), None)
    if tracking_code and bought is not None and bought.tracking_code:
        return None  # the only parcel has another tracking code: this scan is not about it
    return live[0]


def parcels_moving(shipments: list[ShipmentView]) -> list[ShipmentView]:
    """Parcels that left (captured) and have not reached their end."""
    return [x for x in shipments if x.captured and x.status not in PARCEL_ENDS]


def unit_price(lines: list[OrderLine], sku: str) -> int:
    return next(line.unit_price for line in lines if line.sku == sku)


def value_of(units: Counter[str], lines: list[OrderLine]) -> int:
    """Minor units that ``units`` are worth at the prices of the order's ``lines``."""
    return sum(n * unit_price(lines, sku) for sku, n in units.items())


def priced(units: Counter[str], lines: list[OrderLine]) -> list[OrderLine]:
    """``units`` as order lines at the order's prices, by SKU."""
    return [OrderLine(sku=sku, quantity=n, unit_price=unit_price(lines, sku)) for sku, n in sorted(units.items())]


def returnable(delivered: Counter[str], rmas: Iterable[RmaAllocation]) -> Counter[str]:
    """Units that may still be asked back, counted per unit: what was delivered, plus the replacements exchanges and
    claims shipped (the customer's goods now, which can be damaged too), less what each RMA holds. An open RMA holds
    the units it asked for; a closed return only what actually came back (a partial receipt leaves the rest
    returnable); a closed exchange or claim the units it traded or settled."""
    available = Counter(delivered)
    for rma in rmas:
        outcome = rma.outcome
        if outcome is None:
            available.subtract(rma.lines)
            continue
        if outcome.replacement_shipped:
            continue  # traded unit for unit: the replacements stand where the originals were
        if outcome.kind is AfterSalesKind.CLAIM:
            if outcome.refunded:
                available.subtract(rma.lines)
        else:
            available.subtract({line.sku: line.quantity for line in outcome.returned})
    return +available


def refund_budget(value: int, authorizations: list[Authorization], rmas: Iterable[RmaAllocation]) -> dict[int, int]:
    """Share ``value`` over the captured authorizations, oldest first, net of refunds and of what open RMAs may
    still refund: concurrent RMAs never refund more than was captured."""
    reserved: Counter[int] = Counter()
    for rma in rmas:
        if rma.outcome is None:
            reserved.update(rma.budget)
    budget: dict[int, int] = {}
    for authorization in authorizations:
        payment = authorization.payment
        if payment is None or not payment.captured or value <= 0:
            continue
        share = min(value, payment.refundable - reserved[authorization.n])
        if share > 0:
            budget[authorization.n] = share
            value -= share
    return budget


def budgeted(payment: Payment, budget: int) -> Payment:
    """The payment as an RMA sees it: refundable up to its budget."""
    return payment.model_copy(update={"refunded": payment.captured - budget})


def backorder_change_refused(
    current: BackorderChoice, new: BackorderChoice, *, still_missing: bool, parcel_started: bool
) -> str | None:
    """Why a backorder choice already made may not become ``new`` (``None``: it may). A choice can change while
    nothing of it was acted on: dropped items stay dropped, and once a parcel has started to leave only what still
    waits can be dropped."""
    if new is current or current is BackorderChoice.CANCEL_MISSING:
        return f"already decided ({current.value})"
    if not still_missing:
        return "nothing is waiting for stock any more"
    if new is BackorderChoice.CANCEL_MISSING:
        return None
    if parcel_started:
        return "a parcel has left; what still waits can only be dropped (cancel_missing)"
    return None


def labels_settled(shipments: list[ShipmentView], label_attempts: list[str], discarded: Iterable[str] = ()) -> bool:
    """Every label we set out to buy is bought or given up (none is in flight)."""
    settled = {x.reference for x in shipments} | set(discarded)
    return all(reference in settled for reference in label_attempts)


def address_applies(shipments: list[ShipmentView], unshipped: Counter[str]) -> bool:
    """Some parcel can still go to a new address: one not labelled yet, or labelled but not scanned (its label can
    be voided: carriers refund unused labels)."""
    if any(x.status in (FulfillmentStatus.OPEN, FulfillmentStatus.LABEL_CREATED) for x in shipments):
        return True
    labelled: Counter[str] = Counter()
    for shipment in shipments:
        if not shipment.captured and shipment.status is not FulfillmentStatus.CANCELED:
            labelled.update({line.sku: line.quantity for line in shipment.lines})
    return bool(unshipped - labelled)


def notice_total(
    kind: NoticeKind,
    tracking_of: list[str] | None,
    shipments: list[ShipmentView],
    order_total: int,
    canceled: list[CanceledLine],
) -> int:
    """The amount a message speaks of: the parcels' value when they ship or do not arrive, what is still owed
    otherwise."""
    if kind in (NoticeKind.ORDER_SHIPPED, NoticeKind.PARCEL_UNDELIVERED) and tracking_of:
        return sum(x.value for x in shipments if x.reference in tracking_of)
    return order_total - sum(line.amount for line in canceled)


def end_of_day(day: date | None) -> datetime | None:
    """The end (UTC) of a promised delivery date."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) if day else None
