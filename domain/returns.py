"""After-sales: returns, exchanges and claims, one durable flow per RMA (``return:{rma_id}``).

The order's own workflow decides whether a request is allowed (return window, quantities delivered and not
already returned) and starts the after-sales workflow with everything it needs; the after-sales workflow tells
the order what it became when it closes. Clients depend on these models, never on workflow code.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

from domain.order import Address, Channel, Customer, OrderLine, Sku
from domain.payment import Payment
from domain.shipments import ShipmentView
from domain.timeline import MessageRecord, TimelineEntry

# Same alphabet as order ids: an RMA id goes into workflow ids, idempotency keys and URLs.
RmaId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Quantity = Annotated[int, Strict(), Field(gt=0, le=10_000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class AfterSalesKind(StrEnum):
    RETURN = "return"
    """The customer sends items back for a refund."""
    EXCHANGE = "exchange"
    """The customer sends items back and gets the same items again, at no new charge (story 3)."""
    CLAIM = "claim"
    """Damaged, missing or wrong item: refund or replace without a return shipment."""


class ClaimReason(StrEnum):
    DAMAGED = "damaged"
    MISSING = "missing"
    WRONG_ITEM = "wrong_item"


class Resolution(StrEnum):
    REFUND = "refund"
    REPLACE = "replace"


class Disposition(StrEnum):
    """What inspection found, per returned line; reported to the ERP."""

    RESTOCK = "restock"
    DAMAGED = "damaged"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    AWAITING_APPROVAL = "awaiting_approval"
    DECLINED = "declined"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    CLOSED = "closed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACEMENT_SHIPPED = "replacement_shipped"
    """A claim's replacement is on its way: the claim ends ``exchanged`` when the carrier delivers it."""
    REQUIRES_ACTION = "requires_action"
    """A person must act, for the reason in the ``ActionReason`` search attribute: the label could not be sent
    (action: ``POST /returns/{rma}/label/resend`` once the contact details are right; the RMA waits for it), or a
    refund was refused (action: refund the rest by hand; the RMA has ended with what was refunded), or no operator
    decided a claim by its deadline (action: ``POST /returns/{rma}/approval``; the RMA waits for it)."""

    @property
    def is_terminal(self) -> bool:
        return self in (
            ReturnStatus.DECLINED,
            ReturnStatus.REFUNDED,
            ReturnStatus.EXCHANGED,
            ReturnStatus.CLOSED,
            ReturnStatus.CANCELED,
            ReturnStatus.EXPIRED,
        )


class ReturnLineRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    quantity: Quantity


class ReturnRequest(BaseModel):
    """Body of ``POST /orders/{order_id}/returns``: from the web shop, a store associate or a phone agent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rma_id: RmaId
    kind: AfterSalesKind = AfterSalesKind.RETURN
    lines: Annotated[list[ReturnLineRequest], Field(min_length=1, max_length=500)]
    channel: Channel = "web"
    reason: Note = ""
    claim_reason: ClaimReason | None = None
    """Required for a claim, meaningless otherwise."""
    resolution: Resolution = Resolution.REFUND
    """For a claim: refund or replace. A return is always refunded, an exchange always replaced."""
    received_in_store: bool = False
    """A store associate has the items in hand (story 5): no return label, inspection follows at once. A return
    opened with ``channel`` ``store`` buys no label either: the customer brings the items to a store."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.kind is AfterSalesKind.CLAIM) != (self.claim_reason is not None):
            raise ValueError("claim_reason is required for a claim and only for a claim")
        if self.kind is AfterSalesKind.CLAIM and self.received_in_store:
            raise ValueError("a claim has no return shipment to receive")
        if len({line.sku for line in self.lines}) != len(self.lines):
            raise ValueError("each sku may appear once")
        return self

    @property
    def wants_replacement(self) -> bool:
        return self.kind is AfterSalesKind.EXCHANGE or (
            self.kind is AfterSalesKind.CLAIM and self.resolution is Resolution.REPLACE
        )

    @property
    def needs_return_shipment(self) -> bool:
        return self.kind is not AfterSalesKind.CLAIM


class InspectedLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    quantity: Quantity
    disposition: Disposition = Disposition.RESTOCK


class ReturnReceipt(BaseModel):
    """Body of ``POST /returns/{rma_id}/received`` (store drop-off) or a warehouse's ``return.received`` event.

    Without ``lines`` every returned line is taken as received in resaleable condition.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    received_via: Channel | None = None
    location: Note | None = None
    lines: list[InspectedLine] | None = None


class ApprovalDecision(BaseModel):
    """Body of ``POST /returns/{rma_id}/approval``: an operator's answer on a claim above the value limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approved: bool
    operator: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    note: Note = ""


class ApprovalTimeout(StrEnum):
    """What becomes of a claim above the approval limit that no operator decided by ``approval_deadline``."""

    REQUIRES_ACTION = "requires_action"
    """The claim is ``requires_action`` (its ``ReturnStatus`` search attribute too) and keeps waiting for an
    operator (``POST /returns/{rma}/approval``); its order no longer waits for it to end."""
    APPROVE = "approve"
    """Approved as if an operator had: refunded or replaced."""
    DECLINE = "decline"
    """Declined as if an operator had; the customer is told."""


class UnreturnedExchange(StrEnum):
    """What happens when an exchange's replacement has shipped and the item it replaces never comes back
    (``ReturnPolicy.expires_after``)."""

    CHARGE = "charge"
    """Charge the replacement's value to the customer's payment method (key ``{order}:rma.{rma}.unreturned-charge``)
    and tell them (``exchange-charged``); if the charge is refused, as ``flag``."""
    FLAG = "flag"
    """``requires_action`` ("exchanged item not returned"): a person contacts the customer and decides."""
    ABSORB = "absorb"
    """The retailer absorbs it: the exchange expires with a note on its timeline."""


class ReturnPolicy(BaseModel):
    """Per-retailer after-sales rules; carried in the input so the workflow stays deterministic."""

    model_config = ConfigDict(frozen=True)

    window: timedelta = timedelta(days=30)
    """Returns and claims are accepted until this long after delivery."""
    reminder_after: timedelta = timedelta(days=7)
    """Remind the customer (label again) when nothing has been received this long after the label was sent."""
    expires_after: timedelta = timedelta(days=30)
    """An RMA whose items never arrive expires: the unused return label is voided, nothing is refunded."""
    damaged_refund_percent: Annotated[int, Field(ge=0, le=100)] = 0
    """Share of a line's price refunded when inspection finds it damaged by the customer."""
    claim_approval_limit: Annotated[int, Field(ge=0)] = 10_000
    """Claims worth more than this (minor units) wait for an operator's approval."""
    unreturned_exchange: UnreturnedExchange = UnreturnedExchange.FLAG
    """An exchange whose replacement shipped and whose item never came back: ``charge``, ``flag`` (default: a
    person decides, nothing is taken from the customer unasked) or ``absorb``."""
    return_transit_limit: timedelta = timedelta(days=21)
    """A return parcel the carrier has scanned is waited for this long after its latest scan; then it is taken as
    lost: ``requires_action`` ("return parcel lost") and the customer told once. One scanned back to sender (to the
    customer) is ``requires_action`` at once ("return parcel sent back"). Either way the receipt settles it."""
    replacement_delivery_limit: timedelta = timedelta(days=14)
    """A claim ends when its replacement is delivered; with no delivery scan this long after it shipped (or a scan
    back to sender), the claim ends ``requires_action`` ("replacement not delivered") for a person to trace it."""
    approval_deadline: timedelta = timedelta(days=3)
    """How long a claim waits for an operator's approval before ``approval_timeout_decision`` applies."""
    approval_timeout_decision: ApprovalTimeout = ApprovalTimeout.REQUIRES_ACTION
    """What an overdue claim becomes: a person asked for (the default), or approved, or declined, by policy."""
    history_event_limit: int | None = None
    """Continue as new past this many history events; ``None``: when Temporal suggests it."""


class ReturnWorkflowInput(BaseModel):
    """Everything the after-sales workflow needs, fixed by the order workflow when it accepted the request."""

    model_config = ConfigDict(frozen=True)

    request: ReturnRequest
    order_id: str
    order_workflow_id: str
    """Told ``after_sales_closed`` with the :class:`ReturnOutcome` when the RMA ends."""
    customer: Customer
    currency: str
    address: Address
    """Where the customer is: the return label's sender, the replacement's destination."""
    lines: list[OrderLine]
    """The requested lines with the quantities requested and the unit price the customer paid."""
    payments: list[Payment]
    """The order's captured payments, oldest first: refunds are taken from them in that order."""
    payment_method: str | None = None
    """The order's payment method, for a charge the policy allows (``unreturned_exchange=charge``)."""
    policy: ReturnPolicy = ReturnPolicy()
    requested_at: datetime
    carried_over: dict[str, Any] | None = None
    """Set only by the workflow itself when it continues as new."""

    @property
    def value(self) -> int:
        return sum(line.amount for line in self.lines)


class ReturnedLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    disposition: Disposition


class ReturnOutcome(BaseModel):
    """What an RMA became, sent to the order workflow (signal ``after_sales_closed``) when it ends."""

    model_config = ConfigDict(frozen=True)

    rma_id: str
    kind: AfterSalesKind
    status: ReturnStatus
    returned: list[ReturnedLine] = Field(default_factory=list)
    """Lines that came back (none for a claim, an expired or declined RMA)."""
    refunded: int = 0
    """Minor units refunded to the original payment."""
    replacement_shipped: bool = False
    charged: int = 0
    """Minor units charged anew (an exchange whose item never came back, ``unreturned_exchange=charge``)."""
    awaiting_a_person: bool = False
    """Not the RMA's end: it requires action from a person who may take long (a claim no operator decided in time),
    so the order stops waiting for it; its end is told later, if the order is still there to hear it."""


class ReturnView(BaseModel):
    """``GET /returns/{rma_id}``: where an RMA stands and everything that happened to it."""

    rma_id: str
    order_id: str
    kind: AfterSalesKind
    channel: Channel
    status: ReturnStatus
    lines: list[OrderLine]
    claim_reason: ClaimReason | None = None
    returned: list[ReturnedLine] = Field(default_factory=list)
    refunded: int = 0
    charged: int = 0
    """Minor units charged anew: the replacement of an exchange whose item never came back."""
    action_reason: str | None = None
    """Why the RMA is ``requires_action`` (as in the ``ActionReason`` search attribute), while it is."""
    currency: str
    return_shipment: ShipmentView | None = None
    replacement_shipment: ShipmentView | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    messages_sent: list[str] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)
    """The same messages with their channel, subject and time."""
    """Notification ids of the customer messages delivered (a resent label shows twice, numbered)."""
    finished: bool = False


class ResendLabel(BaseModel):
    """Body of ``POST /returns/{rma_id}/label/resend``: send the return label to the customer again (story 3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requested_via: Channel = "api"


class CancelReturn(BaseModel):
    """Body of ``POST /returns/{rma_id}/cancel``: withdraw the RMA while nothing has shipped or come back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: Note = "customer request"
    requested_via: Channel = "api"


class WarehouseReceipt(BaseModel):
    """An ERP ``return.received`` event, normalised: an RMA's parcel arrived at the warehouse and was inspected.

    ``receipt_id`` is the hub's key (``{order}:rma.{rma}.receipt:1``) when the hub reported it, which is how the
    event finds its RMA."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    order_id: str
    rma_id: str
    receipt_id: str
    lines: list[InspectedLine]
    occurred_at: datetime


def initial_return_view(input: ReturnWorkflowInput) -> ReturnView:
    """What an RMA looks like the moment it is accepted, before its workflow has taken a step."""
    request = input.request
    return ReturnView(
        rma_id=request.rma_id,
        order_id=input.order_id,
        kind=request.kind,
        channel=request.channel,
        status=ReturnStatus.REQUESTED,
        lines=input.lines,
        claim_reason=request.claim_reason,
        currency=input.currency,
    )
