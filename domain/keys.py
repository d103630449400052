"""Identifiers derived from business identity.

Temporal runs activities at least once, so every external side effect carries a key that is the same on every
attempt, after a worker crash, a reset or a continue-as-new: it is built from the order id and the step, never
from a run id, a clock or a random value. The upstream (or our reconciliation) uses it to recognise a repeat.
"""


def idempotency_key(order_id: str, operation: str, n: int = 1) -> str:
    """``idempotency_key("A-1", "payment.capture")`` → ``A-1:payment.capture:1``.

    ``n`` numbers repeated operations of the same kind on one order (a second capture for a second shipment).
    """
    return f"{order_id}:{operation}:{n}"


def hold_id(order_id: str, n: int = 1) -> str:
    """The ERP hold's name; the hold contract makes ``PUT`` on it idempotent."""
    return idempotency_key(order_id, "inventory.hold", n)


def hold_back_receipt_id(hold: str) -> str:
    """The ERP return receipt that books back on hand what the hold ``hold`` committed for parcels that never left
    (``A-1:inventory.hold:2`` → ``A-1:inventory.hold-back:2``): reporting it again is a no-op by contract."""
    order_id, _, n = hold.rsplit(":", 2)
    return idempotency_key(order_id, "inventory.hold-back", int(n))


def shipment_reference(order_id: str, n: int = 1) -> str:
    """Our reference on the carrier's shipment; EasyPost accepts it in place of its own id."""
    return idempotency_key(order_id, "shipment", n)


def notification_id(order_id: str, event: str, n: int = 1) -> str:
    """One id per (order, event, sequence): the message's dedupe key and the left part of its Message-ID.

    Dots, not colons, so that ``{notification_id}@domain`` is a valid RFC 5322 Message-ID.
    """
    return f"{order_id}.{event}.{n}"


def order_id_of(key: str) -> str:
    """The order id a derived key belongs to (everything before the first colon)."""
    return key.split(":", 1)[0]


def authorization_key(order_id: str, n: int = 1) -> str:
    """The n-th authorization of an order: a later shipment, or a re-authorization before the first expires."""
    return idempotency_key(order_id, "payment.authorize", n)


def after_sales_key(order_id: str, rma_id: str, operation: str, n: int = 1) -> str:
    """A side effect of an RMA: ``A-1:rma.R-7.return-label:1``. It starts with the order id like every key, and
    names the RMA so that a carrier scan of a return parcel finds its after-sales workflow."""
    return idempotency_key(order_id, f"rma.{rma_id}.{operation}", n)


def rma_id_of(key: str) -> str | None:
    """The RMA an after-sales key belongs to, ``None`` for a key of the order's own flow."""
    operation = key.split(":")[1] if key.count(":") >= 2 else ""
    if not operation.startswith("rma."):
        return None
    return operation[len("rma.") :].rsplit(".", 1)[0]
