"""What upstreams tell the order (verified webhooks), and carrier scans applied to its parcels. Deliveries are at
least once and unordered: a repeated event id is dropped, a scan older than the newest one applied to its parcel
is stale, and a scan that beats the answer to our own label purchase is held until the parcel exists."""

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.events import EventKind, UpstreamEvent
    from domain.status import FulfillmentStatus
    from domain.timeline import Outcome
    from workflows.kit.parcels import FULFILLMENT_BY_EVENT, scan_not_applicable
    from workflows.order import rules
    from workflows.order.context import OrderContext
    from workflows.order.provider_reports import ProviderReports
    from workflows.order.state import Parcel

_LABELLED = rules.PROGRESS[FulfillmentStatus.LABEL_CREATED]

# A scan with no shipment reference goes to the parcel with its tracking code or to the order's only live label,
# and is skipped (on the timeline) when it could be about several; before, it went to the newest label.
SCAN_MATCHED_TO_ITS_PARCEL = "scan-without-reference-matched"


_PAYMENT_NEWS = frozenset({EventKind.REFUND_SUCCEEDED, EventKind.REFUND_FAILED, EventKind.DISPUTE_OPENED})


@dataclass
class Scans:
    ctx: OrderContext
    provider: ProviderReports

    def receive(self, event: UpstreamEvent) -> None:
        """A verified webhook from the ERP, the carrier or the payment provider: a scan moves its parcel, the rest
        is news for the timeline."""
        ctx, s = self.ctx, self.ctx.state
        if event.event_id in s.seen_events:
            return
        s.seen_events.append(event.event_id)
        status = FULFILLMENT_BY_EVENT.get(event.kind)
        if status is not None:
            self._apply(event, status)
        elif event.kind is EventKind.SHIPMENT_CONFIRMED:
            ctx.journal.record("warehouse", "info", f"shipment confirmed {event.tracking_code or ''}".strip())
        elif event.kind in _PAYMENT_NEWS:
            self.provider.receive(event)

    def labelled(self, reference: str) -> None:
        """A label was bought: its parcel is followed from here, and scans that arrived before it are applied."""
        s = self.ctx.state
        s.parcels[reference] = Parcel(progress=_LABELLED)
        early = [event for event in s.early_scans if event.shipment_reference == reference]
        s.early_scans = [event for event in s.early_scans if event not in early]
        for event in sorted(early, key=lambda event: event.occurred_at):
            self._apply(event, FULFILLMENT_BY_EVENT[event.kind])

    def _apply(self, event: UpstreamEvent, status: FulfillmentStatus) -> None:
        ctx, s = self.ctx, self.ctx.state
        reference = event.shipment_reference or self._parcel_of(event, status)
        if reference is None:
            return
        shipment = next((x for x in s.shipments if x.reference == reference), None)
        if shipment is None and reference in self._live_attempts():
            # The label is being bought: its parcel exists once the answer is in.
            s.early_scans.append(event.model_copy(update={"shipment_reference": reference}))
            return
        parcel = s.parcels.get(reference)
        skipped = scan_not_applicable(
            shipment, reference, status, event.occurred_at, parcel.latest_scan_at if parcel else None
        )
        if skipped is not None:
            ctx.journal.record("tracking", "skipped", skipped)
            return
        parcel = s.parcels.setdefault(reference, Parcel(progress=_LABELLED))
        parcel.latest_scan_at = event.occurred_at
        self.advance(reference, status, f"{event.source}: {event.raw_status or event.kind.value}")

    def _parcel_of(self, event: UpstreamEvent, status: FulfillmentStatus) -> str | None:
        """Which parcel a scan naming none is about, never a guess between parcels (``None``: skipped, said so)."""
        s = self.ctx.state
        newest = s.label_attempts[-1] if s.label_attempts else None
        matched = rules.parcel_of_scan(s.shipments, self._live_attempts(), event.tracking_code)
        if matched != newest and newest is not None and not workflow.patched(SCAN_MATCHED_TO_ITS_PARCEL):
            return newest
        if matched is None:
            self.ctx.journal.record("tracking", "skipped", f"{status.value} names none of this order's parcels")
        return matched

    def _live_attempts(self) -> list[str]:
        """The labels bought or being bought for parcels: a label given up by an address change never carried one."""
        s = self.ctx.state
        return [reference for reference in s.label_attempts if reference not in s.labels_discarded]

    def advance(self, reference: str, status: FulfillmentStatus, detail: str) -> None:
        """Move the parcel ``reference`` to ``status`` unless that is not further along than what we know."""
        ctx, s = self.ctx, self.ctx.state
        shipment = next((x for x in s.shipments if x.reference == reference), None)
        if shipment is None:
            return
        known = s.parcels[reference].progress if reference in s.parcels else _LABELLED
        effect = rules.scan_effect(shipment.status, status, known)
        if effect is rules.Scan.IGNORED:
            return
        parcel = s.parcels.setdefault(reference, Parcel(progress=_LABELLED))
        if effect is rules.Scan.STALE:
            ctx.journal.record("tracking", "skipped", f"stale {status.value} ({detail})")
            return
        if status is not FulfillmentStatus.EXCEPTION:
            parcel.progress = rules.PROGRESS[status]
        ctx.mark_shipment(reference, status)
        outcome: Outcome = "failed" if status is FulfillmentStatus.EXCEPTION else "succeeded"
        ctx.journal.record("tracking", outcome, f"{status.value} ({detail})")
