"""The order workflow's public contract: its input, the decisions it accepts and the view it answers with.

Clients (the Python client, the HTTP API, the CLI) depend on these models, never on workflow code.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.backorder import Backorder, BackorderChoice
from domain.order import Address, Channel, Order, OrderLine
from domain.returns import ReturnPolicy
from domain.shipments import ShipmentView
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from domain.timeline import MessageRecord, Outcome, TimelineEntry

__all__ = ["Outcome", "ShipmentView", "TimelineEntry"]  # re-exported: part of the order's public contract


class UndeliveredParcel(StrEnum):
    """What the retailer does about a parcel that left but never reached the customer: lost (no delivery scan by
    ``OrderPolicy.delivery_deadline``) or returned to sender by the carrier. Either way goods that come back are
    reported to the ERP and the customer is told once."""

    REFUND = "refund"
    """Refund the parcel's captured value to the payment that paid for it. The conservative choice: the customer is
    never left paying for goods they did not get."""
    RESHIP = "reship"
    """Send the same goods again at no new charge, as a new parcel followed like the first; when the stock is not
    there or no label can be bought, refund instead."""


class ActionRequired(StrEnum):
    """Why an order waits for a person (``requires_action``); the first is indexed as the ``ActionReason`` search
    attribute (no customer data).
    Each names the step that was refused; the operator resolves it outside the hub if needed, then asks the order
    to try again (``POST /orders/{id}/retry``, the ``retry_actions`` Update)."""

    PARCEL_REFUND_REFUSED = "parcel refund refused"
    """The provider refused to refund a lost or returned parcel: the customer has paid for goods they do not have."""
    RETURNED_GOODS_UNREPORTED = "returned parcel not reported"
    """The ERP refused the receipt of a parcel the carrier brought back: its stock is not back on hand."""
    # A refused undo step (``workflows/order/undo.py``, renewals, restocks) is resolved outside the hub: sticky,
    # the order stays ``requires_action`` once it has ended (README, "When an undo step is refused").
    LABEL_VOID_REFUSED = "label void refused"
    """The carrier refused to void a label whose parcel never left: void it (or claim its refund) in the carrier's
    dashboard, so the retailer does not pay for it."""
    PAYMENT_REVERSAL_REFUSED = "payment not voided"
    """The provider refused to void an authorization (or refund a capture) for goods that did not leave, or to void
    an ageing authorization before its renewal: void or refund it in the provider's dashboard."""
    STOCK_RELEASE_REFUSED = "stock release refused"
    """The ERP refused to release a hold for goods that will not ship: release it in the ERP."""
    STOCK_RETURN_REFUSED = "committed stock not booked back"
    """The ERP refused the receipt booking back on hand a hold committed for parcels that never left: book those
    units back in the ERP."""
    STOPPED_BY_OPERATOR = "stopped by an operator"
    """An operator cancelled the workflow after parcels had left: nothing follows them any more; see them delivered
    (or returned) and settle the order by hand."""
    REFUND_FAILED = "refund failed at the provider"
    """The payment provider reported a refund failed after it went out (``refund.failed``): the customer was told
    it is delayed; refund them by hand (the order's view no longer counts it)."""
    CUSTOMER_NOT_TOLD = "customer not told"
    """The email provider refused a message the customer must get (the order's cancellation, items dropped, a
    parcel lost or sent back, a refund delayed): check the address or the provider's suppression list, then retry;
    the message goes out again under the same notification id."""
    PAYMENT_DISPUTED = "payment disputed"
    """The cardholder disputed the charge (the reason is on the timeline): answer the dispute at the provider."""


class OrderPolicy(BaseModel):
    """Timing the starter chooses per deployment; carried in the input so the workflow stays deterministic."""

    model_config = ConfigDict(frozen=True)

    tracking_poll_interval: timedelta = timedelta(hours=6)
    """How often to ask the carrier for tracking when no carrier event has arrived."""
    delivery_deadline: timedelta = timedelta(days=30)
    """A parcel with no delivery scan this long after it left is taken as lost, and handled as
    ``undelivered_parcel`` says."""
    undelivered_parcel: UndeliveredParcel = UndeliveredParcel.REFUND
    """What happens to a parcel lost by the carrier or returned to sender; the customer is told either way."""
    publish_status_events: bool = False
    """Deliver every status change to the retailer's subscribers (signed webhooks), in order."""
    status_events_overdue_after: timedelta = timedelta(days=3)
    """How long a batch of status events may keep failing before the order flags it as overdue (on its timeline,
    as its current details and in the ``hub_status_events_overdue`` metric). Nothing is dropped: the batch stays
    queued, in order, and is tried again (at most this long apart) until the subscribers accept it."""
    history_event_limit: int | None = None
    """Continue as new past this many history events; ``None``: when Temporal suggests it (about 10k events)."""
    backorder_decision_timeout: timedelta = timedelta(hours=48)
    """How long the customer has to choose what happens to a short order before ``backorder_default`` applies."""
    backorder_default: BackorderChoice = BackorderChoice.SHIP_AVAILABLE
    backorder_decision_url: str | None = None
    """The retailer's page where a customer chooses what happens to a short order, ``{order_id}`` standing for the
    order's id (``https://shop.example/orders/{order_id}/backorder``): the backorder message links to it. Without
    one the message asks the customer to reply."""
    backorder_recheck_interval: timedelta = timedelta(hours=12)
    """How often to try reserving missing items again when no ERP stock event has woken the order."""
    backorder_max_wait: timedelta = timedelta(days=120)
    """Missing items still not in stock this long after the order are cancelled (their share released)."""
    authorization_validity: timedelta = timedelta(days=6)
    """Renew (void, then authorize again) an authorization this old that still covers goods not yet shipped.
    Card authorizations lapse after about 7 days (Visa merchant-initiated: 5): renew before, not after."""
    returns: ReturnPolicy = ReturnPolicy()
    """After delivery the order stays open this window long to accept returns and claims."""


class OrderWorkflowInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: Order
    policy: OrderPolicy = OrderPolicy()
    carried_over: dict[str, Any] | None = None
    """Set only by the workflow itself when it continues as new: the state of the run before (opaque here)."""


class FailureReason(StrEnum):
    """Why an order ended without shipping, as the customer message and the timeline name it."""

    PAYMENT_DECLINED = "payment_declined"
    AUTHORIZATION_RENEWAL_DECLINED = "authorization_renewal_declined"
    RESTOCK_TOO_LATE = "restock_too_late"
    CANCELED_MISSING_ITEMS = "canceled_missing_items"
    OUT_OF_STOCK = "out_of_stock"
    LABEL_REJECTED = "label_rejected"
    CAPTURE_FAILED = "capture_failed"
    CANCELED_BY_CUSTOMER = "canceled_by_customer"
    CANCELED_BY_MERCHANT = "canceled_by_merchant"
    SYSTEM_ERROR = "system_error"


class CancelRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = "customer request"
    requested_via: Channel = "api"


class AddressChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    shipping_address: Address
    requested_via: Channel = "api"


class RetryRequest(BaseModel):
    """An operator asks an order in ``requires_action`` to try its refused steps again (``retry_actions``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    """What the operator did first (for the timeline): no customer data."""


class CanceledLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    amount: int
    reason: FailureReason


class OrderView(BaseModel):
    """What anyone may ask about an order: the three statuses, shipments and what happened when."""

    order_id: str
    customer_id: str
    currency: str
    total: int
    lines: list[OrderLine] = Field(default_factory=list)
    status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: FulfillmentStatus
    shipments: list[ShipmentView] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    failure_reason: FailureReason | None = None
    compensations: list[str] = Field(default_factory=list)
    """What was undone, in the order it was undone (``label voided``, ``stock released`` …)."""
    messages_sent: list[str] = Field(default_factory=list)
    """Notification ids of the customer messages delivered."""
    messages: list[MessageRecord] = Field(default_factory=list)
    """The same messages with their channel, subject and time."""
    backorder: Backorder | None = None
    canceled_lines: list[CanceledLine] = Field(default_factory=list)
    """Items dropped from the order (the customer's choice, or stock or payment that never came)."""
    captured: int = 0
    refunded: int = 0
    """Minor units taken and given back over the order's life, after-sales refunds included."""
    returns: list[str] = Field(default_factory=list)
    """RMA ids opened on this order (``GET /returns/{rma_id}``)."""
    delivered_at: datetime | None = None
    return_window_ends: datetime | None = None
    action_required: list[ActionRequired] = Field(default_factory=list)
    """Why the order waits for a person, when its status is ``requires_action`` for a step that was refused."""
    finished: bool = False
    """True once the order's workflow has ended: nothing more will happen to it (no message still on its way)."""


class OrderStatusChanged(BaseModel):
    """The event the hub sends to the retailer's backends on every status change of an order.

    ``seq`` counts from 1 per order without gaps, so a subscriber can tell a missed event from a late one;
    ``event_id`` (``{order_id}.status.{seq}``) is the Standard Webhooks ``webhook-id`` and the dedupe key.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["order.status_changed"] = "order.status_changed"
    event_id: str
    order_id: str
    seq: int
    status: OrderStatus
    payment_status: PaymentStatus
    fulfillment_status: FulfillmentStatus
    occurred_at: datetime


def initial_view(order: Order) -> OrderView:
    """What an order looks like the moment it is accepted, before its workflow has taken a step."""
    return OrderView(
        order_id=order.order_id,
        customer_id=order.customer.id,
        currency=order.currency,
        total=order.total,
        lines=order.lines,
        status=OrderStatus.PENDING,
        payment_status=PaymentStatus.NOT_PAID,
        fulfillment_status=FulfillmentStatus.OPEN,
    )
