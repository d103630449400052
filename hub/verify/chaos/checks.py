"""After the chaos: each order's story against the upstreams' own records (sandbox ledger, SMTP sink).

The invariants every order must keep are :mod:`hub.dev.invariants`'s one checker; this module adds what only the
workload knows: which endings and messages each kind of order may reach, and what the customer kept after a return.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from domain.status import OrderStatus
from hub.dev.invariants import Books, message_kind
from hub.dev.invariants import check as invariants
from hub.verify.chaos.workload import EXPECTED, RETURNING, Story


@dataclass(frozen=True)
class Records:
    """What the sandbox recorded for one order."""

    ledger: dict[str, Any]
    mail: list[dict[str, Any]]


def check(story: Story, records: Records) -> list[str]:
    """Every problem with one order, each prefixed with its id; empty when it ended as it may and its books,
    stock, labels and messages are right."""
    problems = list(story.errors)
    view = story.view
    if view is None:
        problems.append("no view of the order")
        return [f"{story.order.order_id}: {problem}" for problem in problems]
    if not view.finished:
        problems.append(f"workflow still open ({view.status.value}) at the deadline")
    problems += [
        str(found) for found in invariants(view, Books.from_ledger(records.ledger, records.mail), story.returns)
    ]
    allowed = EXPECTED[story.kind]
    ending = (view.status, view.failure_reason)
    if ending not in allowed:
        reason = view.failure_reason.value if view.failure_reason else "-"
        problems.append(f"a {story.kind.value} order ended {view.status.value} ({reason})")
    else:
        kinds = tuple(message_kind(sent) for sent in [*view.messages_sent, *_rma_messages(story)])
        if kinds not in allowed[ending]:
            problems.append(f"a {story.kind.value} order got messages {list(kinds)}")
    if view.status is OrderStatus.COMPLETED:
        problems += _kept(story, records.ledger)
    if story.kind in RETURNING and view.status is OrderStatus.COMPLETED and story.returns and not story.returned:
        problems.append(f"the return ended {story.returns[0].status.value}, not refunded")
    return [f"{story.order.order_id}: {problem}" for problem in problems]


def _rma_messages(story: Story) -> list[str]:
    return [sent for rma in story.returns for sent in rma.messages_sent]


def _kept(story: Story, ledger: dict[str, Any]) -> list[str]:
    """Captured - refunded must be the value of what the customer keeps: what was ordered, less the lines the
    hub dropped (never charged) and what the customer sent back. Worked out from the workload, not the hub's
    view, so a refund the hub counted but never paid (or paid twice) shows."""
    assert story.view is not None
    dropped = Counter[str]()
    for canceled in story.view.canceled_lines:
        dropped[canceled.sku] += canceled.quantity
    keeps = 0
    for line in story.order.lines:
        kept = line.quantity - dropped[line.sku] - story.returned.get(line.sku, 0)
        keeps += kept * line.unit_price
    pay = ledger["payment"]
    net = pay["captured"] - pay["refunded"]
    return [] if net == keeps else [f"captured - refunded = {net}, but the customer keeps goods worth {keeps}"]


def tally(stories: list[Story]) -> dict[str, int]:
    """Orders per ending (``completed``, ``canceled:payment_declined`` …), returns refunded and refused."""
    counts: Counter[str] = Counter()
    for story in stories:
        view = story.view
        if view is None:
            counts["no_view"] += 1
            continue
        counts[view.status.value + (f":{view.failure_reason.value}" if view.failure_reason else "")] += 1
        counts["returns_refunded"] += bool(story.returned)
        counts["returns_refused"] += any(note.startswith("return refused") for note in story.notes)
        counts["cancels_too_late"] += story.kind.value == "cancel" and view.status is OrderStatus.COMPLETED
    return dict(sorted(counts.items()))
