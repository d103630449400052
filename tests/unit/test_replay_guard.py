"""The replay guard remembers accepted event ids for twice the signature tolerance, in bounded memory."""

from datetime import UTC, datetime, timedelta

import pytest

from api.replay_guard import ReplayGuard
from connectors.webhook_signatures import TOLERANCE

T0 = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_first_sighting_is_new_and_a_repeat_is_seen() -> None:
    guard = ReplayGuard()
    assert guard.seen("payment:evt_1", T0) is False
    assert guard.seen("payment:evt_1", T0 + timedelta(seconds=1)) is True
    assert guard.seen("payment:evt_2", T0 + timedelta(seconds=1)) is False


def test_default_window_is_twice_the_signature_tolerance_inclusive() -> None:
    guard = ReplayGuard()
    assert guard.seen("erp:m1", T0) is False
    assert guard.seen("erp:m1", T0 + 2 * TOLERANCE) is True
    guard = ReplayGuard()
    assert guard.seen("erp:m1", T0) is False
    assert guard.seen("erp:m1", T0 + 2 * TOLERANCE + timedelta(microseconds=1)) is False


def test_a_repeat_does_not_extend_the_window() -> None:
    guard = ReplayGuard(ttl=timedelta(minutes=10))
    guard.seen("e", T0)
    assert guard.seen("e", T0 + timedelta(minutes=9)) is True
    assert guard.seen("e", T0 + timedelta(minutes=11)) is False  # forgotten at T0+10, recorded afresh
    assert guard.seen("e", T0 + timedelta(minutes=20)) is True


def test_expired_entries_are_evicted() -> None:
    guard = ReplayGuard(ttl=timedelta(minutes=10))
    for i in range(5):
        guard.seen(f"old-{i}", T0 + timedelta(seconds=i))
    guard.seen("recent", T0 + timedelta(minutes=5))
    assert len(guard) == 6
    guard.seen("later", T0 + timedelta(minutes=10, seconds=2, microseconds=1))  # old-0..old-2 have expired
    assert len(guard) == 4  # old-3, old-4, recent, later
    assert guard.seen("old-3", T0 + timedelta(minutes=10, seconds=2, microseconds=1)) is True
    assert guard.seen("old-0", T0 + timedelta(minutes=10, seconds=2, microseconds=1)) is False


def test_memory_is_bounded_by_dropping_the_oldest() -> None:
    guard = ReplayGuard(max_entries=3)
    for i in range(4):
        assert guard.seen(f"e{i}", T0 + timedelta(seconds=i)) is False
    assert len(guard) == 3
    assert guard.seen("e3", T0 + timedelta(seconds=5)) is True
    assert guard.seen("e1", T0 + timedelta(seconds=5)) is True
    assert guard.seen("e0", T0 + timedelta(seconds=5)) is False  # dropped to make room


def test_forget_lets_the_next_delivery_through() -> None:
    guard = ReplayGuard()
    guard.seen("carrier:evt_1", T0)
    guard.forget("carrier:evt_1")
    guard.forget("never-seen")
    assert guard.seen("carrier:evt_1", T0 + timedelta(seconds=1)) is False
    assert guard.seen("carrier:evt_1", T0 + timedelta(seconds=2)) is True


def test_a_clock_going_backwards_neither_crashes_nor_forgets_recent_ids() -> None:
    guard = ReplayGuard(ttl=timedelta(minutes=10))
    guard.seen("a", T0 + timedelta(minutes=1))
    assert guard.seen("b", T0) is False
    assert guard.seen("a", T0) is True
    assert guard.seen("b", T0 + timedelta(minutes=10)) is True


@pytest.mark.parametrize(("ttl", "max_entries"), [(timedelta(0), 10), (timedelta(seconds=-1), 10), (timedelta(1), 0)])
def test_invalid_configuration_is_refused(ttl: timedelta, max_entries: int) -> None:
    with pytest.raises(ValueError):
        ReplayGuard(ttl=ttl, max_entries=max_entries)
