"""A customer notice: *what* to tell, decided by a workflow. Rendering decides the words."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.order import Customer
from domain.order_view import FailureReason


class NoticeKind(StrEnum):
    ORDER_CONFIRMED = "order-confirmed"
    ORDER_SHIPPED = "order-shipped"
    ORDER_CANCELED = "order-canceled"


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
