"""Refuses a second delivery of the same signed webhook within a short window (replay protection)."""

from collections import OrderedDict
from datetime import datetime, timedelta


class ReplayGuard:
    """Remembers the event ids this process accepted in the last ``ttl``.

    Why ten minutes is enough: every scheme the hub accepts binds a signed timestamp to the delivery, and a
    delivery is refused unless that timestamp is within 5 minutes of now, in either direction
    (``connectors.webhook_signatures.TOLERANCE``; for EasyPost the event's signed ``created_at``). So one signed
    message can only be accepted during a window of 2 x 5 = 10 minutes; a replay after that is refused by the
    timestamp check before it reaches this guard. Remembering an id for twice the tolerance therefore catches
    every replay that could still pass verification, and nothing older needs to be kept.

    This is a per-process cache, not the source of truth for duplicates. With several API replicas a replay may
    land on a replica that never saw the original, and a sender's genuine retry (Stripe and Standard Webhooks
    re-sign each attempt with a fresh timestamp) can arrive long after the window: the order workflow drops an
    event id it has already applied, whichever replica or hour it comes from. The guard only spares the
    workflow the obvious repeats.

    Call ``seen`` after the signature is verified (an unverified id must not occupy an entry), and ``forget``
    the id if handling it then fails, so the sender's retry is processed rather than taken for a replay.

    Entries are kept in first-seen order, so expired ones are evicted from the front at O(1) each; beyond
    ``max_entries`` the oldest is dropped (a flood can only shorten the window, never grow memory). Not
    thread-safe; meant for one event loop, where ``seen`` runs without awaiting.
    """

    def __init__(self, ttl: timedelta = timedelta(minutes=10), max_entries: int = 100_000) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._first_seen: OrderedDict[str, datetime] = OrderedDict()

    def seen(self, event_id: str, now: datetime) -> bool:
        """Record ``event_id``; ``True`` if it was already recorded at most ``ttl`` before ``now``.

        A repeat does not extend the window: the id is remembered from its first sighting.
        """
        self._evict_expired(now)
        first = self._first_seen.get(event_id)
        if first is not None and now - first <= self._ttl:
            return True
        # New, or expired but not yet evicted (possible only if ``now`` went backwards): record it afresh.
        self._first_seen.pop(event_id, None)
        self._first_seen[event_id] = now
        while len(self._first_seen) > self._max_entries:
            self._first_seen.popitem(last=False)
        return False

    def forget(self, event_id: str) -> None:
        """Drop ``event_id`` (its handling failed): the next delivery of it is processed, not refused."""
        self._first_seen.pop(event_id, None)

    def __len__(self) -> int:
        return len(self._first_seen)

    def _evict_expired(self, now: datetime) -> None:
        while self._first_seen:
            oldest = next(iter(self._first_seen.values()))
            if now - oldest <= self._ttl:
                return
            self._first_seen.popitem(last=False)
