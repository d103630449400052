"""The three independent status dimensions of an order, as serious order systems keep them.

One flat status cannot say "paid but not shippable" or "shipped but refund pending"; three can.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REQUIRES_ACTION = "requires_action"
    COMPLETED = "completed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (OrderStatus.COMPLETED, OrderStatus.CANCELED)


class PaymentStatus(StrEnum):
    NOT_PAID = "not_paid"
    AUTHORIZED = "authorized"
    PARTIALLY_CAPTURED = "partially_captured"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    AUTH_EXPIRED = "auth_expired"
    FAILED = "failed"


class FulfillmentStatus(StrEnum):
    OPEN = "open"
    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"
    LOST = "lost"
    """No delivery scan by the delivery deadline: the parcel is taken as lost (``OrderPolicy.undelivered_parcel``)."""
    CANCELED = "canceled"
