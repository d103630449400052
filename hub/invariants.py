"""What must hold for an order once it has ended, read from the upstreams' own records (the sandbox ledger).

Used by the demo, the integration tests and the chaos run: money and stock are checked where they live, not
where the workflow believes they are.
"""

from collections import Counter
from typing import Any

from domain.order import Order
from domain.order_view import OrderView
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
