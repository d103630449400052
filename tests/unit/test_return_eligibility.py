"""Why an order takes no return: the same words from the running workflow and for an order that has ended."""

from datetime import UTC, datetime, timedelta

from domain.order_view import FailureReason
from domain.return_eligibility import why_no_return
from domain.status import OrderStatus

NOW = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


def test_an_order_that_ended_without_delivering_names_how_it_ended() -> None:
    """Issue 14, scenario 31."""
    reason = why_no_return(
        delivered_at=None,
        window_ends=None,
        now=NOW,
        ended=OrderStatus.CANCELED,
        failure_reason=FailureReason.PAYMENT_DECLINED,
    )
    assert reason == "nothing in this order was delivered: it was canceled (payment_declined)"
    assert why_no_return(delivered_at=None, window_ends=None, now=NOW, ended=OrderStatus.REQUIRES_ACTION) == (
        "nothing in this order was delivered: it was requires_action"
    )


def test_a_running_order_refuses_before_delivery_and_after_its_window() -> None:
    assert why_no_return(delivered_at=None, window_ends=None, now=NOW) == "nothing in this order has been delivered yet"
    delivered = NOW - timedelta(days=20)
    closed = delivered + timedelta(days=14)
    assert (
        why_no_return(delivered_at=delivered, window_ends=closed, now=NOW) == "the return window closed on 2026-11-26"
    )
    assert why_no_return(delivered_at=delivered, window_ends=NOW + timedelta(days=1), now=NOW) is None
    ended = why_no_return(
        delivered_at=delivered, window_ends=NOW + timedelta(days=1), now=NOW, ended=OrderStatus.COMPLETED
    )
    assert ended == "the order has already ended (completed)"
