"""What must hold for an order once it has ended, read from the upstreams' own records (the sandbox ledger).

Used by the demo, the integration tests and the chaos run: money and stock are checked where they live, not
where the workflow believes they are.
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any

from domain.order import Order
from domain.order_view import OrderView
from domain.returns import ReturnView
from domain.status import OrderStatus


def violations(order: Order, view: OrderView, ledger: dict[str, Any]) -> list[str]:
    """Every broken invariant, as a sentence; empty when the order's books are right."""
    found: list[str] = []
    pay, stock, labels = ledger["payment"], ledger["inventory"], ledger["labels"]
    units = sum(line.quantity for line in order.lines)
    net = pay["captured"] - pay["refunded"]
    open_authorization = pay["authorized"] - pay["captured"] - pay["voided"]

    if view.status is OrderStatus.COMPLETED:
        # Items dropped on the way (a backorder) are neither charged nor shipped; refunds after delivery (returns,
        # claims) come off what the customer paid.
        owed = order.total - sum(line.amount for line in view.canceled_lines)
        units -= sum(line.quantity for line in view.canceled_lines)
        parcels = sum(1 for shipment in view.shipments if shipment.captured and shipment.status.value != "canceled")
        if net != owed - view.refunded:
            found.append(f"captured net {net} != {owed} owed - {view.refunded} refunded")
        if stock["committed"] != units:
            found.append(f"{stock['committed']} units committed, expected {units}")
        # Every unit held must have left (committed) or gone back (released, a partial hold given back).
        if stock["reserved"] != stock["released"] + stock["committed"]:
            found.append(f"stock left reserved: {stock}")
        # An address change after the label voids it and buys another: one label per parcel must remain.
        if labels["bought"] - labels["voided"] != parcels:
            found.append(f"labels bought/voided {labels['bought']}/{labels['voided']}: expected {parcels} left")
    elif view.status is OrderStatus.CANCELED:
        if net != 0:
            found.append(f"money kept {net} on a cancelled order")
        if stock["reserved"] != stock["released"] or stock["committed"]:
            found.append(f"stock left reserved: {stock}")
        if labels["bought"] != labels["voided"]:
            found.append(f"labels bought {labels['bought']}, voided {labels['voided']}")
    else:
        found.append(f"order not in a terminal state: {view.status.value}")
    if view.status.is_terminal and open_authorization:
        found.append(f"authorization left open: {open_authorization}")

    # A replayed request is not a new effect in the ledger, so any key seen twice is a duplicate side effect.
    keys = Counter((effect["effect"], effect["idempotency_key"]) for effect in ledger["effects"])
    found += [f"{kind} applied {n} times under {key}" for (kind, key), n in keys.items() if n > 1]
    return found


# Messages a cancelled order must never have sent: they tell a story its cancellation contradicts.
_CONTRADICTED_BY_CANCELLATION = frozenset({"order-shipped", "order-delivered", "order-delayed"})


def message_kind(notification_id: str) -> str:
    """``A-1.order-shipped.1`` (an RMA's: ``A-1.return-label.R-7.1``) → ``order-shipped``."""
    return notification_id.split(".")[1]


def received_ids(mail: list[dict[str, Any]]) -> list[str]:
    """The notification ids of messages in the SMTP sink, in arrival order (``<id@domain>`` → ``id``)."""
    return [m["message_id"].strip("<>").split("@")[0] for m in mail]


def message_violations(view: OrderView, mail: list[dict[str, Any]], rmas: Sequence[ReturnView] = ()) -> list[str]:
    """Every expected message sent exactly once: the sink (``/_sandbox/mail?order_id=…``) holds exactly what the
    order's and its RMAs' workflows say they delivered, never two different messages under one id, and nothing a
    cancellation contradicts."""
    found: list[str] = []
    received = received_ids(mail)
    sent = list(view.messages_sent) + [sent for rma in rmas for sent in rma.messages_sent]
    if sorted(received) != sorted(sent):
        found.append(f"mail received {sorted(received)} != sent {sorted(sent)}")
    found += [f"two different messages under {m['message_id']}" for m in mail if m.get("conflicting")]
    kinds = [message_kind(sent) for sent in view.messages_sent]
    if view.status is OrderStatus.CANCELED:
        if kinds.count("order-canceled") != 1 or kinds[-1:] != ["order-canceled"]:
            found.append(f"a cancelled order must end with one cancellation message: {kinds}")
        if contradicted := sorted(_CONTRADICTED_BY_CANCELLATION.intersection(kinds)):
            found.append(f"cancelled, yet told {contradicted}")
    elif view.status is OrderStatus.COMPLETED and kinds.count("order-delivered") != 1:
        found.append(f"completed with {kinds.count('order-delivered')} delivery messages: {kinds}")
    return found


def return_violations(view: OrderView, rmas: Sequence[ReturnView], ledger: dict[str, Any]) -> list[str]:
    """An order's RMAs, from the ledger: each one ended, what they refunded is what the order counts as refunded
    and what the payment provider paid back, every unit received was booked once, no return label left unvoided
    on an RMA that never received anything."""
    found = [
        f"RMA {rma.rma_id} not in a terminal state: {rma.status.value}" for rma in rmas if not rma.status.is_terminal
    ]
    refunded = sum(rma.refunded for rma in rmas)
    if view.status is OrderStatus.COMPLETED:
        # A completed order refunds nothing of its own: every refund came from an RMA.
        if view.refunded != refunded:
            found.append(f"order counts {view.refunded} refunded, its RMAs {refunded}")
        if ledger["payment"]["refunded"] != refunded:
            found.append(f"payment provider refunded {ledger['payment']['refunded']}, the RMAs {refunded}")
    received = sum(line.quantity for rma in rmas for line in rma.returned)
    if ledger["returns"]["received"] != received:
        found.append(f"ERP booked {ledger['returns']['received']} returned units, the RMAs received {received}")
    labels = ledger["return_labels"]
    used = sum(1 for rma in rmas if rma.return_shipment is not None and rma.returned)
    if labels["bought"] - labels["voided"] > used:
        found.append(f"return labels bought/voided {labels['bought']}/{labels['voided']}, only {used} used")
    return found
