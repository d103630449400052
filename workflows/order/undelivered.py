"""Parcels that left but will not reach the customer: lost (no delivery scan by the deadline) or returned to sender
by the carrier. Goods that came back are reported to the ERP; as the retailer's policy says
(``OrderPolicy.undelivered_parcel``) the parcel's value is refunded to the payment that captured it (``refund``, the
default) or its goods are sent again (``reship``, refunded when they cannot be); and the customer is told once what
happened and what we did. A step refused (the provider will not refund, the ERP will
not take the receipt) hands the order to a person: ``requires_action``, the reason in the ``ActionReason`` search
attribute, and the order waits, open, until an operator asks it to try again (``retry_actions``)."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReceiveReturn
    from domain.contract import Refusal
    from domain.inventory import ReturnedStock
    from domain.keys import idempotency_key
    from domain.order_view import ActionRequired, RetryRequest, UndeliveredParcel
    from domain.returns import Disposition
    from domain.shipments import ShipmentView
    from domain.status import FulfillmentStatus, OrderStatus
    from notifications.notice import NoticeKind, ParcelFate
    from workflows import policies
    from workflows.failures import error_text
    from workflows.order import rules
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderContext
    from workflows.order.payments import Payments
    from workflows.order.reship import Reship
    from workflows.order.state import UndeliveredSettlement

_FATE = {FulfillmentStatus.LOST: ParcelFate.LOST, FulfillmentStatus.RETURNED_TO_SENDER: ParcelFate.RETURNED_TO_SENDER}
_MINE = (ActionRequired.PARCEL_REFUND_REFUSED, ActionRequired.RETURNED_GOODS_UNREPORTED)
"""The reasons for a person this part sets, and clears once the retried step went through."""


@dataclass
class Undelivered:
    ctx: OrderContext
    payments: Payments
    rest: AtRest
    reship: Reship

    async def settle(self) -> None:
        """Set right every parcel that has just reached an undelivered end, once each."""
        ctx, s = self.ctx, self.ctx.state
        for shipment in list(s.shipments):
            fate = _FATE.get(shipment.status)
            known = s.undelivered.get(shipment.reference)
            if fate is None or not shipment.captured or (known is not None and known.settled):
                continue
            if known is None:
                s.undelivered[shipment.reference] = UndeliveredSettlement(fate=fate)
                ctx.journal.record(
                    "undelivered_parcel",
                    "failed",
                    f"shipment {shipment.shipment_no} {fate.value}: {ctx.policy.undelivered_parcel.value}",
                )
            await self._set_right(shipment, first=True)
            s.undelivered[shipment.reference].settled = True
        self._index()

    async def until_resolved(self) -> None:
        """A person is in the loop: the order stays open, waiting for the operator's retry, for as long as a step
        it took is refused (``retry_actions``)."""
        s = self.ctx.state
        while self._open():
            self.ctx.journal.doing(f"Waiting for a person: {', '.join(a.value for a in s.action_required)}")
            await self.rest.rest_until(lambda: not self._open())

    async def retry(self, request: RetryRequest) -> None:
        """The operator's retry: every refused step is tried again under the same keys; the order completes once
        nothing is left for a person."""
        ctx, s = self.ctx, self.ctx.state
        ctx.journal.record("retry_actions", "info", request.note or "asked by an operator")
        for reference, parcel in s.undelivered.items():
            if parcel.refund_owed or (parcel.fate is ParcelFate.RETURNED_TO_SENDER and not parcel.reported):
                shipment = next(x for x in s.shipments if x.reference == reference)
                await self._set_right(shipment, first=False)
        self._index()
        settled = not rules.parcels_moving(s.shipments) and not ctx.unshipped()
        if not s.action_required and s.status is OrderStatus.REQUIRES_ACTION and settled:
            ctx.update(status=OrderStatus.COMPLETED)

    def check_retry(self, request: RetryRequest) -> None:
        if self._open():
            return
        others = ", ".join(action.value for action in self.ctx.state.action_required)
        if others:  # an undo step refused: resolved by hand (README, "When an undo step is refused")
            raise ApplicationError(f"nothing the order can retry: {others} is resolved by hand", type=Refusal.RETRY)
        raise ApplicationError("nothing in this order is waiting for a person", type=Refusal.RETRY)

    def _open(self) -> bool:
        return any(action in _MINE for action in self.ctx.state.action_required)

    async def _set_right(self, shipment: ShipmentView, *, first: bool) -> None:
        """Report what came back, send the goods again or refund what was paid for them, tell the customer
        (``first``: they have not been told yet): each step skipped once done."""
        ctx, s = self.ctx, self.ctx.state
        parcel = s.undelivered[shipment.reference]
        if parcel.fate is ParcelFate.RETURNED_TO_SENDER and not parcel.reported:
            parcel.reported = await self._report_returned(shipment)
        if first and parcel.sent_again_as is None and ctx.policy.undelivered_parcel is UndeliveredParcel.RESHIP:
            again = await self.reship.send_again(shipment)
            if again is not None:
                parcel.sent_again_as = again.reference
                await ctx.notify(
                    NoticeKind.PARCEL_UNDELIVERED,
                    tracking_of=[again.reference],
                    parcel_fate=parcel.fate,
                    sent_again=True,
                )
                return
        if parcel.refund_owed:
            parcel.refunded = await self.payments.refund_parcel(shipment)
            if first or parcel.refunded is not None:  # told when it happens, again when a late refund went through
                await ctx.notify(
                    NoticeKind.PARCEL_UNDELIVERED,
                    tracking_of=[shipment.reference],
                    parcel_fate=parcel.fate,
                    refunded=parcel.refunded or 0,
                )

    async def _report_returned(self, shipment: ShipmentView) -> bool:
        """The carrier brought the goods back: the ERP takes them back on hand, under a receipt named by the parcel."""
        ctx = self.ctx
        try:
            await workflow.execute_activity_method(
                InventoryActivities.receive_return,
                ReceiveReturn(
                    order_id=ctx.order.order_id,
                    receipt_id=idempotency_key(ctx.order.order_id, "parcel.returned", shipment.shipment_no),
                    lines=[
                        ReturnedStock(sku=line.sku, quantity=line.quantity, disposition=Disposition.RESTOCK)
                        for line in shipment.lines
                    ],
                ),
                summary=f"Reporting shipment {shipment.shipment_no} back at the warehouse to the ERP",
                **policies.COMPENSATION,
            )
        except ActivityError as error:
            ctx.journal.record("report_returned_parcel", "failed", error_text(error))
            return False
        ctx.journal.record("report_returned_parcel", "succeeded", f"shipment {shipment.shipment_no}")
        return True

    def _index(self) -> None:
        """``action_required`` says which refused steps wait for a person (other parts' reasons kept)."""
        s = self.ctx.state
        parcels = s.undelivered.values()
        mine = []
        if any(p.refund_owed for p in parcels):
            mine.append(ActionRequired.PARCEL_REFUND_REFUSED)
        if any(p.fate is ParcelFate.RETURNED_TO_SENDER and not p.reported for p in parcels):
            mine.append(ActionRequired.RETURNED_GOODS_UNREPORTED)
        s.action_required = [a for a in s.action_required if a not in _MINE] + mine
        if mine:
            self.ctx.update(status=OrderStatus.REQUIRES_ACTION)
