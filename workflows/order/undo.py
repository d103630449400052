"""Undoing what has not shipped, derived from the state (labels bought, holds, authorizations), newest first, and
telling the customer once. Nothing shipped: the order is cancelled. A parcel left: only the rest is dropped. Each
compensation is a no-op when its step never happened, so an answer lost in transit is undone too; one that cannot
finish (a label the carrier will not void) leaves the order to a person, never silently half-undone: the order
waits, ``requires_action`` with the reason, until an operator's retry gets every refused step through."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.contract import Refusal
    from domain.order_view import ActionRequired, CancelRequest, FailureReason, RetryRequest
    from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
    from notifications.notice import NoticeKind
    from workflows.failures import error_text
    from workflows.order import rules
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderAborted, OrderContext
    from workflows.order.payments import Payments
    from workflows.order.shipping import Shipping
    from workflows.order.state import RefusedUndo
    from workflows.order.stock import Stock
    from workflows.saga import Compensations

# A hold committed for a wave whose parcels then could not leave is booked back on hand by the undo; before, it
# stayed committed for goods that never left.
STRANDED_COMMITS_BOOKED_BACK = "stranded-commits-booked-back"

# An order whose undo step was refused waits for the operator's retry (``retry_actions``); before, it ended.
REFUSED_UNDO_WAITS_FOR_RETRY = "refused-undo-waits-for-retry"

# What a person must do when an undo step is refused, by the step.
_REFUSED = {
    "payment": ActionRequired.PAYMENT_REVERSAL_REFUSED,
    "renewal": ActionRequired.PAYMENT_REVERSAL_REFUSED,
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
    rest: AtRest

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
        steps: list[RefusedUndo] = []
        for authorization in s.authorizations:
            if self.payments.needs_reversal(authorization):
                steps.append(RefusedUndo(step="payment", target=str(authorization.n)))
        for hold in s.holds:
            if hold.status in ("requested", "held"):
                steps.append(RefusedUndo(step="stock", target=hold.hold_id))
            elif hold.status == "committed" and hold.stranded and workflow.patched(STRANDED_COMMITS_BOOKED_BACK):
                steps.append(RefusedUndo(step="stock committed", target=hold.hold_id))
        for reference in s.label_attempts:
            if not s.parcel_left(reference):
                steps.append(RefusedUndo(step="label", target=reference))
        saga = Compensations()
        for step in steps:
            saga.add(f"{step.step}:{step.target}", self._undo_step(step))

        def on_failure(name: str, error: BaseException) -> None:
            # A compensation that could not finish (a label the carrier refuses to void) needs a person; the
            # order's status rolls up to requires_action and stays there (``rules.order_status``) until retried.
            step, _, target = name.partition(":")
            ctx.journal.record(f"undo_{step}", "failed", str(error))
            s.refused_undo.append(RefusedUndo.model_validate({"step": step, "target": target}))
            ctx.needs_person(_REFUSED[step], f"undo {step} refused")

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

    def _undo_step(self, step: RefusedUndo) -> Callable[[], Awaitable[None]]:
        """The compensation that ``step`` names; each is idempotent, so a retry repeats it under the same key."""
        s = self.ctx.state
        if step.step in ("payment", "renewal"):
            authorization = next(a for a in s.authorizations if str(a.n) == step.target)
            undo = self.payments.reverse if step.step == "payment" else self.payments.void_renewed
            return partial(undo, authorization)
        if step.step == "stock":
            return partial(self.stock.release, step.target)
        if step.step == "stock committed":
            return partial(self.stock.book_back, step.target)
        return partial(self.shipping.void, step.target)

    # -- a person in the loop ----------------------------------------------------------------------------------

    async def until_resolved(self) -> None:
        """The story is over but an undo step was refused: the order stays open, ``requires_action``, until an
        operator's retry gets every refused step through (``retry_actions``)."""
        s = self.ctx.state
        if not s.refused_undo or not workflow.patched(REFUSED_UNDO_WAITS_FOR_RETRY):
            return
        self.ctx.journal.doing(f"Waiting for a person: {', '.join(a.value for a in s.action_required)}")
        await self.rest.rest_until(lambda: not s.refused_undo)

    def has_refused_steps(self) -> bool:
        return bool(self.ctx.state.refused_undo)

    async def retry(self, request: RetryRequest) -> None:
        """The operator's retry: every refused undo step is tried again under its key; the reasons of those that go
        through are cleared, and with none left the order takes the status its story gave it."""
        ctx, s = self.ctx, self.ctx.state
        if not s.refused_undo:
            return
        ctx.journal.record("retry_undo", "info", request.note or "asked by an operator")
        payment_status = s.payment_status
        refused_again: list[RefusedUndo] = []
        for step in list(s.refused_undo):  # the list stays as it is meanwhile: the order waits on it
            try:
                await self._undo_step(step)()
            except ActivityError as error:
                ctx.journal.record(f"undo_{step.step}", "failed", error_text(error))
                refused_again.append(step)
        s.refused_undo = refused_again
        if s.shipped_any:  # what left stays paid: the status says so, not the void of what did not
            ctx.update(payment=payment_status)
        still = {_REFUSED[step.step] for step in s.refused_undo}
        s.action_required = [a for a in s.action_required if a not in _REFUSED.values() or a in still]
        ctx.update(status=rules.settled_status(s, bool(ctx.unshipped())))

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
