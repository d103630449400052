"""Undoing an RMA, derived from its state: what was begun and is not past its point of no return (``to_undo``,
each recorded before its step) is undone newest first, each compensation a no-op when its step never happened.
Withdrawing or expiring a waiting RMA voids its unused return label. Then the customer is told once."""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities
    from activities.shipping import ShipmentRef, ShippingActivities
    from domain.order_view import FailureReason
    from domain.returns import ReturnStatus
    from domain.status import FulfillmentStatus
    from notifications.notice import NoticeKind, Undone
    from workflows import policies
    from workflows.failures import error_text
    from workflows.returns.context import ReturnContext, RmaAborted, RmaEnded
    from workflows.returns.not_returned import NotReturned
    from workflows.returns.state import Compensation
    from workflows.saga import Compensations

RECEIPT_BEATS_EXPIRY_PATCH = "rma-receipt-beats-expiry"
"""A receipt recorded while the expiry voided the label used to be ignored: histories from then replay that way."""
UNRETURNED_EXCHANGE_PATCH = "rma-unreturned-exchange"
"""An exchange whose item never came back used to expire with nothing charged or flagged: histories from then replay
that way."""


class Undo:
    def __init__(self, ctx: ReturnContext, not_returned: NotReturned) -> None:
        self._ctx = ctx
        self._not_returned = not_returned
        self._compensations = {
            "return_label": self._void_return_label,
            "replacement_stock": self._release_replacement,
            "replacement_label": self._void_replacement_label,
        }

    def before(self, step: Compensation) -> None:
        """Record ``step`` as begun *before* it runs: an answer lost in transit must still be undone."""
        self._ctx.state.to_undo.append(step)

    def past_point_of_no_return(self) -> None:
        """What was begun has shipped or is sent: later endings are a different flow."""
        self._ctx.state.to_undo.clear()

    async def unwind(self) -> None:
        """Undo what was begun, newest first; a compensation that fails is on the timeline, the rest go on."""
        saga = Compensations()
        for step in self._ctx.state.to_undo:
            saga.add(step, self._compensations[step])
        self._ctx.state.to_undo.clear()
        await saga.unwind(lambda name, error: self._ctx.journal.record(f"undo_{name}", "failed", str(error)))

    async def abort(self, abort: RmaAborted) -> None:
        """A step failed for a business reason or the customer withdrew before anything was settled."""
        ctx = self._ctx
        ctx.journal.record("after_sales", "failed", abort.reason.value)
        await self.unwind()
        ctx.update(ReturnStatus.CANCELED)
        await ctx.notify(NoticeKind.RETURN_CANCELED, reason=abort.reason)

    async def withdraw(self, reason: FailureReason = FailureReason.CANCELED_BY_CUSTOMER) -> None:
        """The RMA is withdrawn while waiting, before anything came back: void the unused label, end, say so."""
        await self._void_quietly()
        self._ctx.update(ReturnStatus.CANCELED)
        await self._ctx.notify(NoticeKind.RETURN_CANCELED, reason=reason)

    async def expire(self) -> None:
        """Nothing came back in time: the unused label is voided, nothing is refunded. Decided once: from here a
        resend or a cancellation is refused (``expiring``), but a receipt recorded meanwhile (the goods handed in at
        a store while the label was being voided) is honoured: the caller goes on to settle it."""
        s = self._ctx.state
        s.expiring = True
        self._ctx.journal.record("expired", "info", "nothing was received in time")
        await self._void_quietly()
        if s.receipt is not None and workflow.patched(RECEIPT_BEATS_EXPIRY_PATCH):
            s.expiring = False
            self._ctx.journal.record("receipt", "info", "recorded while the label was being voided: settled")
            return
        if self._not_returned.applies() and workflow.patched(UNRETURNED_EXCHANGE_PATCH):
            await self._not_returned.settle()  # the customer holds both items: charge, flag or absorb
        self._ctx.update(ReturnStatus.EXPIRED)
        await self._ctx.notify(NoticeKind.RETURN_EXPIRED)
        raise RmaEnded

    async def stopped_by_operator(self) -> None:
        """An operator cancelled the workflow itself: undo what can still be undone and end; past the point of no
        return (shipped, received, settling), end ``closed`` for a person to follow up."""
        ctx, s = self._ctx, self._ctx.state
        if s.status.is_terminal:
            return
        if s.no_return is None and s.started:
            await self.withdraw(FailureReason.CANCELED_BY_MERCHANT)
        elif s.no_return is None:
            await self.abort(RmaAborted(FailureReason.CANCELED_BY_MERCHANT))
        else:
            ctx.journal.record("after_sales", "failed", f"stopped by an operator; {s.no_return}")
            ctx.update(ReturnStatus.CLOSED)

    async def void_unused_label(self) -> None:
        """The items came back without the return label (handed in at a store): void it, a refusal on the
        timeline for a person (the refund does not wait on the carrier)."""
        self._ctx.journal.record("return_label", "info", "received in store: the unused label is voided")
        await self._void_quietly()

    async def _void_quietly(self) -> None:
        if self._ctx.state.return_shipment is None:
            return
        try:
            await self._void_return_label()
        except ActivityError as error:
            self._ctx.journal.record("void_return_label", "failed", error_text(error))

    # -- compensations: each a no-op when its step never happened --------------------------------------------

    async def _void_return_label(self) -> None:
        ctx, s = self._ctx, self._ctx.state
        reference = ctx.key("return-label")
        void = await workflow.execute_activity_method(
            ShippingActivities.void_label,
            ShipmentRef(reference=reference),
            summary=f"Undo: voiding return label {reference}",
            **policies.COMPENSATION,
        )
        if void.voided:
            s.undone.append(Undone.LABEL_VOIDED)
            ctx.journal.record("return_label_voided", "compensated", void.reference)
        if s.return_shipment is not None:
            s.return_shipment = s.return_shipment.model_copy(update={"status": FulfillmentStatus.CANCELED})

    async def _void_replacement_label(self) -> None:
        ctx, s = self._ctx, self._ctx.state
        reference = ctx.key("replacement-label")
        void = await workflow.execute_activity_method(
            ShippingActivities.void_label,
            ShipmentRef(reference=reference),
            summary=f"Undo: voiding replacement label {reference}",
            **policies.COMPENSATION,
        )
        if void.voided:
            ctx.journal.record("replacement_label_voided", "compensated", void.reference)
        if s.replacement_shipment is not None:
            s.replacement_shipment = s.replacement_shipment.model_copy(update={"status": FulfillmentStatus.CANCELED})

    async def _release_replacement(self) -> None:
        ctx = self._ctx
        hold_id = ctx.key("replacement-hold")
        hold = await workflow.execute_activity_method(
            InventoryActivities.release,
            HoldRef(hold_id=hold_id),
            summary=f"Undo: releasing {hold_id}",
            **policies.COMPENSATION,
        )
        if hold is not None:
            ctx.journal.record("replacement_stock_released", "compensated", f"{hold.units_held} units")
