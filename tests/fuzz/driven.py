"""Which event kinds the short run in ``make test`` drives: those whose paths hold their invariants on main today.

``make fuzz`` drives every kind (``tests.fuzz.scenario.KINDS``) and reports what breaks; a kind joins this list
once the fixes for the paths it takes have landed (issue 14 lists them), so the short run stays green and grows.
"""

from tests.fuzz.scenario import OPERATIONS

_EVERY_CALL_RETRIED = frozenset(
    f"{outcome}.{operation}" for outcome in ("transient", "timeout_after_apply") for operation in OPERATIONS
)
"""A transient failure or a timeout after the change was applied, on any call: retried under the same key, so the
order goes on as if nothing happened (the connectors' contract; ``make chaos`` holds it too)."""

_FORWARD_REFUSALS = frozenset(
    {"refuse.authorize", "refuse.reserve", "refuse.buy_label", "refuse.track", "refuse.refund"}
)
"""A forward step refused: the saga undoes what was done and the customer is told once; a refund refused puts the
order or RMA in requires_action with its reason. Not yet: a message the provider refuses (``refuse.send``): when it
is the cancellation, the order ends cancelled with the customer never told and nobody asked to tell them (seed 54
of this list with it, seed 240 of ``make fuzz``; which message the refusal meets depends on when the cancel lands, so
with it the short run fails one run in a few). Nor a refused capture
or commit once a capture was made (the undo's refund is not in the view, scenario 17), and every refused undo step
(void, label void, release: scenarios 13-16)."""

_CUSTOMER = frozenset(
    {
        "shortage",
        "two_warehouses",
        "restock",
        "backorder.ship_available",
        "backorder.wait_for_all",
        "backorder.cancel_missing",
        "cancel",
        "renewal",
    }
)
"""The customer's decisions before shipping, on short and split orders. Not yet: an address change, whether its
new label is refused (scenarios 6-8) or bought (a relabel after the shipped message sends ``order-shipped.1``
again with the new tracking number: the customer's mailbox drops it as a repeat, so they keep the voided one)."""

_CARRIER = frozenset(
    {
        "scan.delivered",
        "scan.exception",
        "tracking.exception",
        "tracking.lost",
        "tracking.returned",
        "scan.returned_to_sender",
    }
)
"""Parcels that arrive, late or after an exception, or never: lost or sent back, refunded and reported (scenarios
1-3). Not yet: a scan without a shipment reference (5)."""

_AFTER_SALES = frozenset(
    {
        "return",
        "return.store",
        "claim",
        "claim.replace",
        "claim.approval",
        "receipt",
        "resend",
        "scan.replacement",
        "dispute",
    }
)
"""Returns, claims, receipts and label resends within the window, a refund refused (scenarios 18-20, 23-25, 27,
30). Not yet: exchanges (22), a return parcel scanned and never received (21), a refund that fails later (26)."""

SHORT_RUN_KINDS: frozenset[str] = _EVERY_CALL_RETRIED | _FORWARD_REFUSALS | _CUSTOMER | _CARRIER | _AFTER_SALES
