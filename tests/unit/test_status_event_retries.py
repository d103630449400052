"""The pause before a refused batch of status events is tried again: short at first, never past the deadline."""

from datetime import timedelta

from workflows.order.outbox import pause_after


def test_the_pause_doubles_from_thirty_seconds_up_to_the_overdue_deadline() -> None:
    """Issue 14, scenario 29: a refused batch is kept and tried again, at most the deadline apart."""
    three_days = timedelta(days=3)
    assert [pause_after(n, three_days) for n in (1, 2, 3)] == [timedelta(seconds=s) for s in (30, 60, 120)]
    assert pause_after(15, three_days) == three_days
    assert pause_after(10_000, three_days) == three_days  # no overflow after months of refusals
    assert pause_after(1, timedelta(seconds=1)) == timedelta(seconds=1)
