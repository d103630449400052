"""Everything an order workflow knows, in one model.

One model rather than scattered attributes, so that continuing as new carries *all* of it (a run that forgot the
backorder or a held authorization would strand money or stock), and so compensation can be derived from what
was done rather than from closures that die with the run. Only the workflow writes or reads it.
"""

from collections import Counter
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.backorder import Backorder
from domain.events import UpstreamEvent
from domain.order import Address, OrderLine
from domain.order_view import (
    ActionRequired,
    CanceledLine,
    CancelRequest,
    FailureReason,
    OrderStatusChanged,
    ShipmentView,
    TimelineEntry,
)
from domain.payment import Payment
from domain.returns import ReturnOutcome
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from domain.timeline import MessageRecord
from notifications.notice import CustomerNotice, ParcelFate, Undone


class Authorization(BaseModel):
    """The n-th authorization of the order. Recorded *before* the call, so a lost answer is still reversed."""

    n: int
    amount: int
    at: datetime
    payment: Payment | None = None
    """The provider's answer; ``None`` while unknown."""
    ended: bool = False
    """Captured, voided or declined: it covers nothing any more."""
    renewed: bool = False
    """Voided before the card network let it lapse, and replaced by the next authorization."""
    parcel: str | None = None
    """The shipment reference whose value it captured."""


class HeldStock(BaseModel):
    """One ERP hold of the order. Recorded before the call, like authorizations."""

    hold_id: str
    lines: dict[str, int] = Field(default_factory=dict)
    """SKU → units actually held."""
    restock_dates: dict[str, date] = Field(default_factory=dict)
    """SKU → when the ERP expects what it could not hold."""
    locations: dict[str, str] = Field(default_factory=dict)
    """SKU → the warehouse holding it, when the ERP says."""
    status: Literal["requested", "held", "committed", "released", "returned"] = "requested"
    """``returned``: committed, then booked back on hand (a return receipt) because its parcels never left."""
    stranded: bool = False
    """Committed for a wave of parcels that then could not leave (a later hold's commit was refused): its units
    must be booked back on hand by the undo."""


class Parcel(BaseModel):
    """How far a parcel has got, for ordering the carrier's unordered scans."""

    progress: int = 0
    latest_scan_at: datetime | None = None
    deadline: datetime | None = None
    """When it is taken as lost, set when it is first followed while the rest of the order waits for stock;
    otherwise the order's ``delivery_deadline``."""


class UndeliveredSettlement(BaseModel):
    """A parcel that left and will not reach the customer, and how far setting it right got."""

    fate: ParcelFate
    sent_again_as: str | None = None
    """The reference of the parcel that carries its goods again (policy ``reship``)."""
    refunded: int | None = None
    """What was refunded for it; ``None`` while the provider has not accepted the refund."""
    reported: bool = False
    """Its goods are reported back to the ERP (a parcel returned to sender; a lost one has nothing to report)."""
    settled: bool = False
    """Every step was tried once and the customer told; what was refused now waits for the operator's retry."""

    @property
    def refund_owed(self) -> bool:
        """Neither sent again nor refunded (the provider refused): the customer has paid for goods they lack."""
        return self.refunded is None and self.sent_again_as is None


class RefusedUndo(BaseModel):
    """An undo step an upstream refused, kept with what it acts on until an operator's retry gets it through."""

    step: Literal["payment", "stock", "stock committed", "label", "renewal"]
    target: str
    """The authorization's number (``payment``, ``renewal``: the void before a renewal), the hold id or the label's
    reference."""


class RmaAllocation(BaseModel):
    """What an open RMA may refund from each captured authorization (n → minor units), fixed when it opened."""

    lines: dict[str, int]
    budget: dict[int, int]
    outcome: ReturnOutcome | None = None
    awaits_a_person: bool = False
    """The RMA requires action (a claim no operator decided in time): the order does not wait for it to end."""


class OrderState(BaseModel):
    status: OrderStatus = OrderStatus.PENDING
    payment_status: PaymentStatus = PaymentStatus.NOT_PAID
    fulfillment_status: FulfillmentStatus = FulfillmentStatus.OPEN
    timeline: list[TimelineEntry] = Field(default_factory=list)
    started_at: datetime | None = None

    authorizations: list[Authorization] = Field(default_factory=list)
    holds: list[HeldStock] = Field(default_factory=list)
    shipments: list[ShipmentView] = Field(default_factory=list)
    label_attempts: list[str] = Field(default_factory=list)
    """References of every label we tried to buy: the ones whose outcome is unknown are voided on abort."""
    labels_discarded: list[str] = Field(default_factory=list)
    """Label attempts of an address change that did not happen (refused, or voided unused): never a parcel."""
    parcels: dict[str, Parcel] = Field(default_factory=dict)
    """Shipment reference → tracking progress."""
    canceled_lines: list[CanceledLine] = Field(default_factory=list)
    backorder: Backorder | None = None
    backordered_skus: list[str] = Field(default_factory=list)
    """As last written to the ``BackorderedSkus`` search attribute."""
    restock_seen: bool = False
    """A stock event for a missing SKU arrived since the last attempt to reserve it."""

    address: Address
    cancel: CancelRequest | None = None
    capturing: bool = False
    """A parcel's value is being captured: past the point where the customer may cancel."""
    failure_reason: FailureReason | None = None
    compensations: list[str] = Field(default_factory=list)
    undone: list[Undone] = Field(default_factory=list)
    amount_returned: int = 0
    messages_sent: list[str] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)
    delays_told: list[str] = Field(default_factory=list)
    """Parcel references whose carrier exception the customer was told about; ``promised`` once the promised
    delivery date passed and they were told."""
    seen_events: list[str] = Field(default_factory=list)
    early_scans: list[UpstreamEvent] = Field(default_factory=list)
    """Scans of a parcel whose label is still being bought (the carrier's webhook beat the answer to our call):
    applied as soon as the label is known."""
    status_seq: int = 0
    outbox: list[OrderStatusChanged] = Field(default_factory=list)
    outbox_failing_since: datetime | None = None
    """When the oldest batch still queued first failed to go out (``None`` while deliveries succeed)."""
    outbox_failures: int = 0
    """Deliveries failed in a row: the pause before the next doubles with each."""
    outbox_overdue: bool = False
    """The queue has failed for the policy's ``status_events_overdue_after`` and was flagged."""
    delivery_deadline: datetime | None = None
    delivered_at: datetime | None = None
    """When the last parcel so far was delivered: the return window runs from here."""
    delivered_told: list[str] = Field(default_factory=list)
    """Parcels delivered while more of the order was still to ship, each told on its own."""
    undelivered: dict[str, UndeliveredSettlement] = Field(default_factory=dict)
    """Shipment reference → how far the settlement of a parcel lost or returned to sender got."""
    action_required: list[ActionRequired] = Field(default_factory=list)
    """Steps refused that a person must look at; the first indexed as ``ActionReason``, retried by ``retry_actions``."""
    refused_undo: list[RefusedUndo] = Field(default_factory=list)
    untold: list[CustomerNotice] = Field(default_factory=list)
    """Messages the customer must get (``rules.MUST_BE_TOLD``) that the provider refused, as they were built: each goes
    out again, under the same notification id, on the operator's retry (``customer not told``)."""
    """Undo steps refused (their reasons in ``action_required``): the order waits for an operator's retry."""
    rmas: dict[str, RmaAllocation] = Field(default_factory=dict)
    charged_after_sales: int = 0
    """Charged anew by RMAs (an exchange whose item never came back): captured outside the order's authorizations."""
    refunds_elsewhere: dict[str, int] = Field(default_factory=dict)
    """Refunds the provider reported that the hub did not make (its dashboard): refund id → minor units counted."""
    failed_refunds: list[str] = Field(default_factory=list)
    """Refunds the provider reported failed, by refund id: each reversed and told once."""
    runs: int = 0
    """How many runs came before this one, for the timeline and for tests."""

    # -- quantities, by SKU ------------------------------------------------------------------------------------

    def ordered(self, lines: list[OrderLine]) -> Counter[str]:
        return Counter({line.sku: line.quantity for line in lines})

    def shipped(self) -> Counter[str]:
        """Units in parcels that left (their stock committed, their value captured)."""
        counts: Counter[str] = Counter()
        for shipment in self.shipments:
            if shipment.captured and shipment.status is not FulfillmentStatus.CANCELED:
                counts.update({line.sku: line.quantity for line in shipment.lines})
        return counts

    def held(self) -> Counter[str]:
        """Units held in the ERP and not yet shipped."""
        counts: Counter[str] = Counter()
        for hold in self.holds:
            if hold.status == "held":
                counts.update(hold.lines)
        return counts

    def held_by_location(self) -> list[Counter[str]]:
        """Units held and not yet shipped, one group per warehouse (in a stable order): each ships as a parcel."""
        groups: dict[str, Counter[str]] = {}
        for hold in self.holds:
            if hold.status == "held":
                for sku, units in hold.lines.items():
                    groups.setdefault(hold.locations.get(sku, ""), Counter())[sku] += units
        return [groups[location] for location in sorted(groups)]

    def canceled(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for line in self.canceled_lines:
            counts[line.sku] += line.quantity
        return counts

    def unshipped(self, lines: list[OrderLine]) -> Counter[str]:
        """Ordered units neither shipped nor cancelled."""
        return self.ordered(lines) - self.shipped() - self.canceled()

    def missing(self, lines: list[OrderLine]) -> Counter[str]:
        """Units still owed to the customer that no hold covers: what the order waits for."""
        return self.unshipped(lines) - self.held()

    def delivered(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for shipment in self.shipments:
            if shipment.status is FulfillmentStatus.DELIVERED:
                counts.update({line.sku: line.quantity for line in shipment.lines})
        return counts

    @property
    def shipped_any(self) -> bool:
        """A parcel with paid goods has left: from then on only what has not shipped can be dropped."""
        return any(shipment.captured for shipment in self.shipments)

    def parcel_left(self, reference: str) -> bool:
        """The parcel labelled ``reference`` left with paid goods (its value captured)."""
        return any(x.reference == reference and x.captured for x in self.shipments)

    def current_authorization(self) -> Authorization | None:
        live = [a for a in self.authorizations if not a.ended and a.payment is not None]
        return live[-1] if live else None
