"""Carrier scans of the RMA's parcels: the return parcel (on its way back to us) and the replacement. At least once
and unordered: a repeated event id is dropped, a scan older than the newest one applied to that parcel is stale. A
return parcel the carrier has scanned is on its way: it is waited for, never expired, and no longer cancellable."""

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.events import UpstreamEvent
    from domain.returns import ReturnStatus
    from domain.status import FulfillmentStatus
    from domain.timeline import Outcome
    from workflows.kit.parcels import FULFILLMENT_BY_EVENT, scan_not_applicable
    from workflows.returns.context import ReturnContext

MOVING = frozenset({FulfillmentStatus.IN_TRANSIT, FulfillmentStatus.OUT_FOR_DELIVERY, FulfillmentStatus.DELIVERED})
"""A return parcel in one of these is on its way to us (or arrived)."""
WITH_THE_CARRIER = frozenset({FulfillmentStatus.EXCEPTION, FulfillmentStatus.RETURNED_TO_SENDER})
"""A return parcel in one of these was scanned, and is not (or no longer) on its way to us."""


@dataclass
class Scans:
    ctx: ReturnContext

    def return_parcel_moving(self) -> bool:
        shipment = self.ctx.state.return_shipment
        return shipment is not None and shipment.status in MOVING

    def return_parcel_scanned(self) -> bool:
        """The carrier has the return parcel: moving, held up, or sent back to the customer."""
        shipment = self.ctx.state.return_shipment
        return shipment is not None and shipment.status in MOVING | WITH_THE_CARRIER

    def receive(self, event: UpstreamEvent) -> None:
        ctx, s = self.ctx, self.ctx.state
        if event.event_id in s.seen_events:
            return
        s.seen_events.append(event.event_id)
        status = FULFILLMENT_BY_EVENT.get(event.kind)
        reference = event.shipment_reference
        if status is None or reference is None:
            ctx.journal.record("event", "info", f"{event.source}: {event.kind.value}")
            return
        parcel = "return" if reference == ctx.key("return-label") else None
        parcel = "replacement" if reference == ctx.key("replacement-label") else parcel
        shipment = s.return_shipment if parcel == "return" else s.replacement_shipment if parcel else None
        skipped = scan_not_applicable(shipment, reference, status, event.occurred_at, s.latest_scan_at.get(reference))
        if skipped is not None or shipment is None:
            ctx.journal.record("tracking", "skipped", skipped)
            return
        s.latest_scan_at[reference] = event.occurred_at
        shipment = shipment.model_copy(update={"status": status})
        outcome: Outcome = "failed" if status is FulfillmentStatus.EXCEPTION else "succeeded"
        ctx.journal.record(
            "tracking", outcome, f"{parcel} parcel {status.value} ({event.raw_status or event.kind.value})"
        )
        if parcel == "replacement":
            s.replacement_shipment = shipment
            return
        s.return_shipment = shipment
        s.return_scanned_at = workflow.now()
        if status in MOVING and s.status is ReturnStatus.LABEL_ISSUED:
            s.no_return = s.no_return or "the return parcel is already with the carrier"
            ctx.update(ReturnStatus.IN_TRANSIT)
        if status is FulfillmentStatus.DELIVERED:
            ctx.journal.record("return_parcel", "info", "delivered to the warehouse; awaiting the inspection")
