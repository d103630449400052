"""A customer notice: *what* to tell, decided by a workflow. Rendering decides the words."""

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain import keys
from domain.backorder import Backorder
from domain.order import Customer
from domain.order_view import FailureReason
from domain.returns import AfterSalesKind, Disposition


class NoticeKind(StrEnum):
    ORDER_CONFIRMED = "order-confirmed"
    ORDER_SHIPPED = "order-shipped"
    ORDER_CANCELED = "order-canceled"
    ORDER_BACKORDERED = "order-backordered"
    """Some items are short: what is missing, when it is expected, the three choices and the deadline."""
    BACKORDER_DECIDED = "backorder-decided"
    """What will happen now, and whether the customer chose it or the default applied."""
    ITEMS_CANCELED = "items-canceled"
    """Part of the order is dropped (stock that never came, a renewal the bank declined); the rest stands."""
    ORDER_DELAYED = "order-delayed"
    """Told before the customer has to ask: a carrier exception, or no delivery by the promised date."""
    ORDER_DELIVERED = "order-delivered"
    PARCEL_UNDELIVERED = "parcel-undelivered"
    """A parcel will not reach the customer (lost by the carrier, or returned to us): what we did about it, the
    refund made, or that it is delayed and being handled."""
    # After-sales (one RMA each, ``rma_id`` set)
    RETURN_LABEL = "return-label"
    """The return label, with its URL: sent when issued and again on request (story 3)."""
    RETURN_IN_STORE = "return-in-store"
    """A return handed in at a store (channel ``store``): bring the items to a store, no label, no postage."""
    RETURN_REMINDER = "return-reminder"
    """Nothing has come back yet: the label again, and when the RMA expires."""
    RETURN_RECEIVED = "return-received"
    """The items are back and inspected, and there is nothing (more) to refund: an exchange completed."""
    RETURN_REFUNDED = "return-refunded"
    RETURN_EXPIRED = "return-expired"
    RETURN_CANCELED = "return-canceled"
    """The RMA ends without going through: the customer withdrew it, or a step (stock, label) failed."""
    EXCHANGE_CONFIRMED = "exchange-confirmed"
    """One message with the whole story: what replaces what, no new charge, tracking, the return label."""
    REPLACEMENT_SHIPPED = "replacement-shipped"
    CLAIM_RECEIVED = "claim-received"
    CLAIM_APPROVED = "claim-approved"
    CLAIM_DECLINED = "claim-declined"
    RETURN_NOT_ARRIVED = "return-not-arrived"
    """The return parcel will not reach us as it stands (lost in transit, or sent back to the customer): we are on
    it, keep the proof of postage."""
    EXCHANGE_CHARGED = "exchange-charged"
    """The item an exchange replaced never came back: the replacement's value was charged (``amount_charged``)."""
    REFUND_DELAYED = "refund-delayed"
    """A refund the payment provider refused: what was refunded (if any), what is delayed, that a person is on it.
    Never "refunded" for money that did not go back."""


class DelayCause(StrEnum):
    CARRIER_EXCEPTION = "carrier_exception"
    """The carrier reported a problem with the parcel (address, weather, damage)."""
    PAST_PROMISED_DATE = "past_promised_date"
    """The promised delivery date has passed without a delivery scan."""


class ParcelFate(StrEnum):
    """Why a ``parcel-undelivered`` notice is sent."""

    LOST = "lost"
    """No delivery scan by the delivery deadline."""
    RETURNED_TO_SENDER = "returned_to_sender"
    """The carrier brought the parcel back to us."""


class Undone(StrEnum):
    """Compensations a customer cares about, named so a message can explain them."""

    PAYMENT_VOIDED = "payment_voided"
    PAYMENT_REFUNDED = "payment_refunded"
    STOCK_RELEASED = "stock_released"
    LABEL_VOIDED = "label_voided"


class TrackingLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    carrier: str
    tracking_code: str
    url: str | None = None


class NoticeLine(BaseModel):
    """An item an after-sales message is about; ``disposition`` once inspected (``restock`` or ``damaged``)."""

    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    disposition: Disposition | None = None


class CustomerNotice(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    kind: NoticeKind
    seq: int = 1
    customer: Customer
    currency: str
    total: int
    tracking: list[TrackingLink] = []
    reason: FailureReason | None = None
    short_skus: list[str] = []
    """The items that could not be reserved, when that is the reason."""
    undone: list[Undone] = []
    amount_returned: int = 0
    """Minor units voided or refunded back to the customer."""
    amount_delayed: int = 0
    """Minor units owed back whose refund the provider refused (``refund-delayed``)."""
    amount_charged: int = 0
    """Minor units charged anew (``exchange-charged``)."""
    backorder: Backorder | None = None
    canceled_skus: list[str] = []
    """Items dropped from the order, for ``items-canceled`` and ``backorder-decided``."""
    rma_id: str | None = None
    """Set on every after-sales notice: it picks the after-sales words and makes the id unique per RMA."""
    after_sales_kind: AfterSalesKind | None = None
    """``return``, ``exchange`` or ``claim``: one RMA tells one consistent story."""
    label_url: str | None = None
    """The return label to print, when the notice carries it."""
    bring_to_store: bool = False
    """The items go back over a store's counter (a ``store`` RMA), not by post: nothing to print or send."""
    decision_url: str | None = None
    """Where the customer tells the retailer what to do with a short order (``OrderPolicy.backorder_decision_url``)."""
    lines: list[NoticeLine] = []
    """The RMA's items: what comes back, what is claimed or replaced."""
    delay: DelayCause | None = None
    """Why an ``order-delayed`` notice is sent."""
    promised_by: date | None = None
    """The delivery date promised at checkout, when there was one."""
    sent_again: bool = False
    """A ``parcel-undelivered`` notice: the goods are on their way again (``tracking`` is the new parcel's)."""
    parcel_fate: ParcelFate | None = None
    """What became of the parcel a ``parcel-undelivered`` notice is about (``total`` is its value,
    ``amount_returned`` what was refunded for it)."""

    @property
    def notification_id(self) -> str:
        """The message's dedupe key: ``A-1.order-shipped.1``; ``A-1.return-label.R-7.2`` for an RMA's."""
        event = self.kind.value if self.rma_id is None else f"{self.kind.value}.{self.rma_id}"
        return keys.notification_id(self.order_id, event, self.seq)
