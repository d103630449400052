"""Sending again the goods of a parcel that did not arrive (``OrderPolicy.undelivered_parcel`` = ``reship``): the same
lines are held, labelled and committed as a new parcel at no new charge (their value was captured once, with the
first parcel, and now stands for the new one), then followed like any other. When the stock is not there or the
carrier refuses the label, what was started is given back and the caller refunds instead: the customer is never
left with neither the goods nor the money."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReserveStock
    from activities.shipping import BuyLabel, ShipmentRef, ShippingActivities
    from domain.inventory import Hold, StockRequest
    from domain.keys import hold_id, shipment_reference
    from domain.order_view import ActionRequired
    from domain.shipments import ShipmentView
    from domain.shipping import Label
    from domain.status import FulfillmentStatus
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.parcels import shipment_from_label
    from workflows.order.context import OrderContext
    from workflows.order.scans import Scans
    from workflows.order.state import HeldStock


@dataclass
class Reship:
    ctx: OrderContext
    scans: Scans

    async def send_again(self, lost: ShipmentView) -> ShipmentView | None:
        """The new parcel carrying ``lost``'s lines, labelled, its stock committed; ``None`` when it cannot leave
        (nothing of it is left held or labelled)."""
        ctx, s = self.ctx, self.ctx.state
        # Recorded before the call and never counted as held: the saga's own holds are not mixed with it.
        hold = HeldStock(hold_id=hold_id(ctx.order.order_id, len(s.holds) + 1))
        s.holds.append(hold)
        if not await self._hold(hold, lost):
            return None
        reference = shipment_reference(ctx.order.order_id, len(s.label_attempts) + 1)
        s.label_attempts.append(reference)
        label = await self._label(reference, lost)
        if label is None or not await self._commit(hold):
            if label is not None:
                await self._void(reference)
            await self._release(hold)
            # Settled as a parcel that never left, so nothing waits for this label (an address change, a scan).
            s.shipments = [
                *s.shipments,
                ShipmentView(
                    shipment_no=len(s.label_attempts),
                    reference=reference,
                    status=FulfillmentStatus.CANCELED,
                    lines=lost.lines,
                ),
            ]
            return None
        again = shipment_from_label(label, len(s.label_attempts), lost.lines, value=lost.value, captured=True)
        # The lost parcel no longer counts (its goods are in the new one); what paid for it pays for the new one.
        s.shipments = [
            x.model_copy(update={"status": FulfillmentStatus.CANCELED}) if x.reference == lost.reference else x
            for x in s.shipments
        ] + [again]
        for authorization in s.authorizations:
            if authorization.parcel == lost.reference:
                authorization.parcel = again.reference
        self.scans.labelled(again.reference)
        s.parcels[again.reference].deadline = workflow.now() + ctx.policy.delivery_deadline
        ctx.update()
        ctx.journal.record("reship", "succeeded", f"shipment {lost.shipment_no} sent again as {again.shipment_no}")
        return again

    async def _hold(self, hold: HeldStock, lost: ShipmentView) -> bool:
        ctx = self.ctx
        try:
            result: Hold = await workflow.execute_activity_method(
                InventoryActivities.reserve,
                ReserveStock(
                    order_id=ctx.order.order_id,
                    hold_id=hold.hold_id,
                    lines=[StockRequest(sku=line.sku, quantity=line.quantity) for line in lost.lines],
                ),
                summary=f"Holding the goods of shipment {lost.shipment_no} again as {hold.hold_id}",
                **policies.STEP,
            )
        except ActivityError as error:
            ctx.journal.record("reship", "failed", f"no hold: {error_text(error)}")
            hold.status = "released"
            return False
        hold.lines = {line.sku: line.held for line in result.lines if line.held}
        if result.short_lines:
            ctx.journal.record("reship", "failed", "not enough stock to send it again")
            await self._release(hold)
            return False
        return True

    async def _label(self, reference: str, lost: ShipmentView) -> Label | None:
        ctx = self.ctx
        try:
            label: Label = await workflow.execute_activity_method(
                ShippingActivities.buy_label,
                BuyLabel(
                    order_id=ctx.order.order_id,
                    reference=reference,
                    address=ctx.state.address,
                    name=ctx.order.customer.name,
                ),
                summary=f"Buying a label to send shipment {lost.shipment_no} again",
                **policies.STEP,
            )
        except ActivityError as error:
            ctx.journal.record("reship", "failed", f"no label: {error_text(error)}")
            return None
        return label

    async def _commit(self, hold: HeldStock) -> bool:
        try:
            await workflow.execute_activity_method(
                InventoryActivities.commit,
                HoldRef(hold_id=hold.hold_id),
                summary=f"Committing {hold.hold_id}: the goods leave again",
                **policies.STEP,
            )
        except ActivityError as error:
            self.ctx.journal.record("reship", "failed", f"stock not committed: {error_text(error)}")
            return False
        hold.status = "committed"
        return True

    async def _release(self, hold: HeldStock) -> None:
        try:
            await workflow.execute_activity_method(
                InventoryActivities.release,
                HoldRef(hold_id=hold.hold_id),
                summary=f"Releasing {hold.hold_id}: the parcel is not sent again",
                **policies.COMPENSATION,
            )
        except ActivityError as error:
            self.ctx.needs_person(ActionRequired.STOCK_RELEASE_REFUSED, f"{hold.hold_id}: {error_text(error)}")
            return
        hold.status = "released"

    async def _void(self, reference: str) -> None:
        try:
            await workflow.execute_activity_method(
                ShippingActivities.void_label,
                ShipmentRef(reference=reference),
                summary=f"Voiding label {reference}: the parcel is not sent again",
                **policies.COMPENSATION,
            )
        except ActivityError as error:
            self.ctx.needs_person(ActionRequired.LABEL_VOID_REFUSED, f"{reference}: {error_text(error)}")
