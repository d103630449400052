"""The per-order side-effect ledger: what the upstreams actually did, as opposed to what they answered.

Tests and the demo assert business invariants against it (money authorized equals money captured plus money
released, no label bought twice, stock reserved once) without trusting the hub's own view. Only *applied*
effects are recorded: an idempotent replay, a rejected request or a transient failure adds nothing.

Effect names per upstream:

- ``payment``: ``authorize``, ``capture``, ``void`` (a cancel, or the uncaptured rest of a partial capture),
  ``refund``; ``amount`` in minor units.
- ``erp``: ``reserve``, ``release``, ``commit``; ``units`` is the number of units actually held.
  ``return.receive``: a return receipt, ``units`` received (restocked and damaged alike).
- ``carrier``: ``label.buy``, ``label.void``; ``amount`` is the label's price in cents. A return shipment's
  label: ``return_label.buy``, ``return_label.void``, counted apart so outbound labels still balance.
- ``email``: ``send`` (one per distinct Message-ID).
- ``sms``: ``send`` (one per message Twilio accepted: it has no idempotency, so a re-send counts twice).
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Upstream = Literal["payment", "erp", "carrier", "email", "sms"]


@dataclass(frozen=True)
class Effect:
    """One applied side effect; ``seq`` is global to the sandbox, so effects of all orders are ordered."""

    seq: int
    upstream: Upstream
    effect: str
    amount: int | None
    units: int | None
    idempotency_key: str | None
    ref: str | None


@dataclass
class _OrderBook:
    """Running totals of one order, kept next to its effects so a read is O(effects of that order)."""

    currency: str | None = None
    payment: dict[str, int] = field(
        default_factory=lambda: {"authorized": 0, "captured": 0, "refunded": 0, "voided": 0}
    )
    inventory: dict[str, int] = field(default_factory=lambda: {"reserved": 0, "released": 0, "committed": 0})
    labels: dict[str, int] = field(default_factory=lambda: {"bought": 0, "voided": 0})
    return_labels: dict[str, int] = field(default_factory=lambda: {"bought": 0, "voided": 0})
    returns: dict[str, int] = field(default_factory=lambda: {"received": 0})
    email: dict[str, int] = field(default_factory=lambda: {"sent": 0})
    sms: dict[str, int] = field(default_factory=lambda: {"sent": 0})
    effects: list[Effect] = field(default_factory=list)


# Which total each effect moves, and whether it counts money (amount) or units / occurrences.
_TOTALS: dict[tuple[Upstream, str], tuple[str, str, str]] = {
    ("payment", "authorize"): ("payment", "authorized", "amount"),
    ("payment", "capture"): ("payment", "captured", "amount"),
    ("payment", "void"): ("payment", "voided", "amount"),
    ("payment", "refund"): ("payment", "refunded", "amount"),
    ("erp", "reserve"): ("inventory", "reserved", "units"),
    ("erp", "release"): ("inventory", "released", "units"),
    ("erp", "commit"): ("inventory", "committed", "units"),
    ("carrier", "label.buy"): ("labels", "bought", "count"),
    ("carrier", "label.void"): ("labels", "voided", "count"),
    ("carrier", "return_label.buy"): ("return_labels", "bought", "count"),
    ("carrier", "return_label.void"): ("return_labels", "voided", "count"),
    ("erp", "return.receive"): ("returns", "received", "units"),
    ("email", "send"): ("email", "sent", "count"),
    ("sms", "send"): ("sms", "sent", "count"),
}


class Ledger:
    """In-memory ledger of applied side effects, grouped by order id."""

    def __init__(self) -> None:
        self._orders: dict[str, _OrderBook] = {}
        self._seq = 0

    def record(
        self,
        order_id: str,
        upstream: Upstream,
        effect: str,
        *,
        amount: int | None = None,
        units: int | None = None,
        idempotency_key: str | None = None,
        ref: str | None = None,
        currency: str | None = None,
    ) -> Effect:
        """Append an applied effect and move the order's totals.

        Callers record only when they really changed state; deduplicating replays is their job because only
        they know what a replay is for their upstream.
        """
        try:
            group, total, measure = _TOTALS[(upstream, effect)]
        except KeyError:
            raise ValueError(f"unknown effect {upstream}/{effect}") from None
        book = self._orders.setdefault(order_id, _OrderBook())
        self._seq += 1
        entry = Effect(self._seq, upstream, effect, amount, units, idempotency_key, ref)
        book.effects.append(entry)
        increment = {"amount": amount, "units": units, "count": 1}[measure] or 0
        getattr(book, group)[total] += increment
        if currency and book.currency is None:
            book.currency = currency
        return entry

    def view(self, order_id: str) -> dict[str, Any]:
        """The order's totals and effects, as served by ``GET /_sandbox/ledger`` (zeros when unknown)."""
        book = self._orders.get(order_id, _OrderBook())
        return {
            "order_id": order_id,
            "payment": {**book.payment, "currency": book.currency},
            "inventory": dict(book.inventory),
            "labels": dict(book.labels),
            "return_labels": dict(book.return_labels),
            "returns": dict(book.returns),
            "email": dict(book.email),
            "sms": dict(book.sms),
            "effects": [asdict(e) for e in book.effects],
        }
