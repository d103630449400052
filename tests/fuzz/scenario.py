"""A scenario, drawn from its seed: an order of 1-3 lines across 1-2 warehouses, then events at random points.

Every event is one ``Event`` with a ``kind`` from :data:`KINDS`; a run draws only from the kinds it drives, so a
seed names the same scenario as long as the set of kinds is the same. The event list is what a failure shrinks.
"""

import random
from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["setup", "early", "after_delivery"]

OPERATIONS = {
    "authorize": "payment",
    "capture": "payment",
    "void": "payment",
    "refund": "payment",
    "reserve": "erp",
    "commit": "erp",
    "release": "erp",
    "return.receive": "erp",
    "buy_label": "carrier",
    "void_label": "carrier",
    "track": "carrier",
    "send": "email",
}
"""The fakes' operations a scenario scripts answers for (``tests.fakes.Effects.script``)."""

OUTCOMES = ("transient", "refuse", "timeout_after_apply")

KINDS: frozenset[str] = frozenset(
    {f"{outcome}.{operation}" for outcome in OUTCOMES for operation in OPERATIONS}
    | {
        # the order itself
        "shortage",  # a line's SKU is short at the ERP when reserved
        "two_warehouses",  # the lines are stocked in two warehouses (split shipments)
        "renewal",  # the authorization must be renewed before the goods ship (a short validity)
        # carrier tracking, as the polls answer it
        "tracking.lost",  # never delivered: in transit until the delivery deadline
        "tracking.exception",  # an exception, then delivered
        "tracking.returned",  # sent back to the sender
        # carrier webhooks, in any order
        "scan.delivered",
        "scan.exception",
        "scan.returned_to_sender",
        "scan.no_reference",  # a delivered scan without a shipment reference
        # the customer's decisions
        "cancel",
        "address",
        "backorder.ship_available",
        "backorder.wait_for_all",
        "backorder.cancel_missing",
        "restock",  # the ERP has the missing stock again (a stock event)
        # after sales
        "return",
        "return.store",  # a return with channel store
        "exchange",
        "claim",
        "claim.replace",
        "claim.approval",  # a claim above the approval limit, then an operator's answer
        "receipt",  # the goods of an RMA received (store or warehouse)
        "resend",  # the return label sent again
        "return_scan.in_transit",  # the return parcel scanned, then never received
        "scan.replacement",  # the carrier delivers an RMA's replacement
        # the payment provider's webhooks
        "refund_failed",
        "dispute",
    }
)

# Kinds whose timing is drawn against delivery (the goods must have reached the customer first).
_AFTER_DELIVERY = frozenset(
    {
        "return",
        "return.store",
        "exchange",
        "claim",
        "claim.replace",
        "claim.approval",
        "receipt",
        "resend",
        "return_scan.in_transit",
        "scan.replacement",
        "refund_failed",
        "dispute",
    }
)
_SETUP = frozenset(
    {f"{outcome}.{operation}" for outcome in OUTCOMES for operation in OPERATIONS}
    | {"shortage", "two_warehouses", "renewal", "tracking.lost", "tracking.exception", "tracking.returned"}
)


@dataclass(frozen=True)
class Event:
    kind: str
    at_ms: int = 0
    """After the order is placed (``early``) or delivered (``after_delivery``); setup events apply at once."""
    target: int = 0
    """Which line, shipment, RMA or call the event is about (its meaning depends on the kind)."""

    @property
    def phase(self) -> Phase:
        if self.kind in _SETUP:
            return "setup"
        return "after_delivery" if self.kind in _AFTER_DELIVERY else "early"

    def __str__(self) -> str:
        when = "" if self.phase == "setup" else f" @{self.at_ms}ms" + (" after delivery" * (self.phase != "early"))
        return f"{self.kind}[{self.target}]{when}"


@dataclass(frozen=True)
class Line:
    quantity: int
    unit_price: int


@dataclass(frozen=True)
class Scenario:
    seed: int
    lines: tuple[Line, ...]
    events: tuple[Event, ...] = field(default=())

    def with_events(self, events: tuple[Event, ...]) -> "Scenario":
        return Scenario(self.seed, self.lines, events)

    def describe(self) -> str:
        lines = ", ".join(f"{line.quantity} x {line.unit_price}" for line in self.lines)
        return f"seed {self.seed}: lines [{lines}]; events [{', '.join(map(str, self.events)) or 'none'}]"


def generate(seed: int, kinds: frozenset[str] = KINDS) -> Scenario:
    """The scenario of ``seed`` over ``kinds`` (the same seed and kinds: the same scenario)."""
    rng = random.Random(seed)
    lines = tuple(Line(rng.randint(1, 2), rng.choice((450, 1290, 4900, 12900))) for _ in range(rng.randint(1, 3)))
    chosen = sorted(kinds)
    events: list[Event] = []
    for _ in range(rng.choice((0, 1, 2, 2, 3, 3, 4, 5))):
        kind = rng.choice(chosen) if chosen else None
        if kind is None:
            break
        at_ms = rng.choice((0, 50, 150, 300, 600, 1000, 1500))
        events.append(Event(kind, at_ms, rng.randint(0, 3)))
    return Scenario(seed, lines, tuple(events))
