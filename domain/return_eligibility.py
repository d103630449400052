"""Why an order takes no return now, in the words the customer service reads: one rule for the order's workflow
(which refuses while it runs) and for the client (which answers for an order whose workflow has ended), so both
name the same reason."""

from datetime import datetime

from domain.order_view import FailureReason
from domain.status import OrderStatus


def why_no_return(
    *,
    delivered_at: datetime | None,
    window_ends: datetime | None,
    now: datetime,
    ended: OrderStatus | None = None,
    failure_reason: FailureReason | None = None,
) -> str | None:
    """The reason an order refuses every return at ``now``, or ``None`` when its window is open.

    ``ended`` is the status of an order whose workflow has ended (``None`` while it runs): an order that ended
    without delivering anything (declined, cancelled, out of stock) never had a return window, and saying that it
    closed would send the customer service looking for a delivery that never happened.
    """
    if delivered_at is None:
        if ended is None:
            return "nothing in this order has been delivered yet"
        why = f" ({failure_reason.value})" if failure_reason is not None else ""
        return f"nothing in this order was delivered: it was {ended.value}{why}"
    if window_ends is not None and now >= window_ends:
        return f"the return window closed on {window_ends.date().isoformat()}"
    if ended is not None:
        return f"the order has already ended ({ended.value})"
    return None
