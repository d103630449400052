"""Undoing what has not shipped, derived from the state (labels bought, holds, authorizations), newest first, and
telling the customer once. Nothing shipped: the order is cancelled. A parcel left: only the rest is dropped. Each
compensation is a no-op when its step never happened, so an answer lost in transit is undone too; one that cannot
finish (a label the carrier will not void) leaves the order to a person, never silently half-undone."""

from dataclasses import dataclass
from functools import partial

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.contract import Refusal
    from domain.order_view import ActionRequired, CancelRequest, FailureReason
    from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
    from notifications.notice import NoticeKind
    from workflows.order.context import OrderAborted, OrderContext
    from workflows.order.payments import Payments
    from workflows.order.shipping import Shipping
    from workflows.order.stock import Stock
    from workflows.saga import Compensations

# A hold committed for a wave whose parcels then could not leave is booked back on hand by the undo; before, it
# stayed committed for goods that never left.
STRANDED_COMMITS_BOOKED_BACK = "stranded-commits-booked-back"

# What a person must do when a compensation is refused, by the compensation's name in the saga.
_REFUSED = {
    "payment": ActionRequired.PAYMENT_REVERSAL_REFUSED,
    "stock": ActionRequired.STOCK_RELEASE_REFUSED,
    "stock committed": ActionRequired.STOCK_RETURN_REFUSED,
    "label": ActionRequired.LABEL_VOID_REFUSED,
}


@dataclass
class Undo:
    ctx: OrderContext
    payments: Payments
    stock: Stock
    shipping: Shipping

    async def abort(self, abort: OrderAborted) -> None:
        """Undo everything that has not shipped, newest first (labels, holds, the money that covered it), then tell
        the customer once."""
        ctx, s = self.ctx, self.ctx.state
        partial_order = s.shipped_any
        unshipped = ctx.unshipped()
        if not partial_order:
            s.failure_reason = abort.reason
        if abort.reason is FailureReason.PAYMENT_DECLINED and not partial_order:
            ctx.update(payment=PaymentStatus.FAILED)
        ctx.journal.doing(f"Undoing what has not shipped: {abort.reason.value}")
        saga = Compensations()
        for authorization in s.authorizations:
            if self.payments.needs_reversal(authorization):
                saga.add("payment", partial(self.payments.reverse, authorization))
        for hold in s.holds:
            if hold.status in ("requested", "held"):
                saga.add("stock", partial(self.stock.release, hold.hold_id))
            elif hold.status == "committed" and hold.stranded and workflow.patched(STRANDED_COMMITS_BOOKED_BACK):
                saga.add("stock committed", partial(self.stock.book_back, hold.hold_id))
        for reference in s.label_attempts:
            if not s.parcel_left(reference):
                saga.add("label", partial(self.shipping.void, reference))

        def on_failure(name: str, error: BaseException) -> None:
            # A compensation that could not finish (a label the carrier refuses to void) needs a person; the
            # order's status rolls up to requires_action and stays there (``rules.order_status``).
            ctx.journal.record(f"undo_{name}", "failed", str(error))
            ctx.needs_person(_REFUSED[name], f"undo {name} refused")

        await saga.unwind(on_failure)
        ctx.set_backordered_skus(clear=True)
        if partial_order:
            ctx.cancel_lines(unshipped, abort.reason)
            ctx.update(status=OrderStatus.CONFIRMED, payment=PaymentStatus.CAPTURED)
            await ctx.notify(NoticeKind.ITEMS_CANCELED, canceled_skus=sorted(unshipped))
        else:
            ctx.update(status=OrderStatus.CANCELED, fulfillment=FulfillmentStatus.CANCELED)
            await ctx.notify(NoticeKind.ORDER_CANCELED, short_skus=abort.short_skus)
        ctx.checkpoint.unwound = True

    async def stopped_by_operator(self) -> None:
        """An operator cancelled the workflow itself (UI, CLI). Before shipping: undo and tell the customer. After:
        parcels are gone, so only stop following them and leave the order to a person."""
        ctx = self.ctx
        if ctx.state.shipped_any:
            ctx.needs_person(ActionRequired.STOPPED_BY_OPERATOR, "parcels no longer followed")
        else:
            await self.abort(OrderAborted(FailureReason.CANCELED_BY_MERCHANT))

    # -- the customer cancels ----------------------------------------------------------------------------------

    async def cancel(self, request: CancelRequest) -> None:
        """Cancel before shipping: the saga stops at its next step and undoes; returns once that is done."""
        s = self.ctx.state
        s.cancel = request
        self.ctx.journal.record("cancel_requested", "info", f"via {request.requested_via}: {request.reason}")
        await workflow.wait_condition(lambda: s.status.is_terminal or self.ctx.checkpoint.unwound)

    def check_cancel(self, request: CancelRequest) -> None:
        # Rejected here, the request never enters the history.
        s = self.ctx.state
        if s.status.is_terminal:
            raise ApplicationError(f"order is already {s.status.value}", type=Refusal.CANCEL)
        if s.shipped_any or s.capturing:
            raise ApplicationError("order has shipped; start a return instead", type=Refusal.CANCEL)
        if s.cancel is not None:
            raise ApplicationError("cancellation already requested", type=Refusal.CANCEL)
