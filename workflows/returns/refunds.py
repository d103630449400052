"""Where an RMA's money moves: refunds from the order's captured payments, oldest first, never more than each still
holds within the RMA's budget; restocked lines at the price paid, damaged ones at the policy's share."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.payment import ChargePayment, PaymentActivities, RefundPayment
    from domain.order_view import FailureReason
    from domain.returns import AfterSalesKind, Disposition, ReturnStatus
    from notifications.notice import NoticeKind
    from workflows import policies
    from workflows.failures import error_text
    from workflows.returns.context import REFUND_FAILED, ReturnContext

REFUND_DELAYED_PATCH = "rma-refund-delayed"
"""A refused refund used to end the RMA ``refunded`` or ``closed``: histories from then replay that way."""


@dataclass
class Refunds:
    ctx: ReturnContext

    def due(self) -> int:
        """Restocked lines at the price paid; damaged ones at the policy's share (rounded down, per line)."""
        ctx = self.ctx
        prices = {line.sku: line.unit_price for line in ctx.input.lines}
        due = 0
        for line in ctx.state.returned:
            amount = prices[line.sku] * line.quantity
            restocked = line.disposition is Disposition.RESTOCK
            due += amount if restocked else amount * ctx.policy.damaged_refund_percent // 100
        return due

    async def refund(self, amount: int) -> None:
        """Refund ``amount`` from the order's captured payments, oldest first. Money owed back keeps being retried
        for as long as a compensation (a day)."""
        ctx, s = self.ctx, self.ctx.state
        remaining = amount
        for k, payment in enumerate(s.payments, start=1):
            take = min(remaining, payment.refundable)
            if take <= 0:
                continue
            try:
                updated = await workflow.execute_activity_method(
                    PaymentActivities.refund,
                    RefundPayment(payment=payment, amount=take, idempotency_key=ctx.key("refund", k)),
                    summary=f"Refunding {ctx.journal.money(take)} to payment {k}",
                    **policies.COMPENSATION,
                )
            except ActivityError as error:
                ctx.journal.record("refund", "failed", f"payment {k}: {error_text(error)}")
                continue
            s.payments[k - 1] = updated
            s.refunded += take
            remaining -= take
            ctx.journal.record("refund", "succeeded", f"{ctx.journal.money(take)} to payment {k}")
        if remaining > 0:
            ctx.journal.record(
                "refund", "failed", f"{ctx.journal.money(remaining)} could not be refunded: needs a person"
            )

    async def charge(self, amount: int) -> bool:
        """Charge ``amount`` anew to the order's payment method (an exchange whose item never came back), under the
        RMA's business keys; True once captured, a refusal on the timeline."""
        ctx, s = self.ctx, self.ctx.state
        method = ctx.input.payment_method
        if method is None:
            ctx.journal.record("charge", "failed", "the RMA has no payment method to charge")
            return False
        try:
            payment = await workflow.execute_activity_method(
                PaymentActivities.charge,
                ChargePayment(
                    order_id=ctx.input.order_id,
                    amount=amount,
                    currency=ctx.input.currency,
                    payment_method=method,
                    authorize_key=ctx.key("unreturned-charge"),
                    capture_key=ctx.key("unreturned-capture"),
                ),
                summary=f"Charging {ctx.journal.money(amount)} for the replacement sent by {ctx.request.rma_id}",
                **policies.STEP,
            )
        except ActivityError as error:
            ctx.journal.record("charge", "failed", error_text(error))
            return False
        s.charged = payment.captured
        ctx.journal.record("charge", "succeeded", ctx.journal.money(payment.captured))
        return True

    async def settle(self, kind: NoticeKind, due: int, reason: FailureReason | None = None) -> None:
        """End the RMA by what its refund became, and tell the customer; a refund short of ``due`` (the provider
        refused some of it) is never told as done: ``requires_action``, and the customer told it is delayed."""
        ctx = self.ctx
        delayed = due - ctx.state.refunded
        if delayed > 0 and workflow.patched(REFUND_DELAYED_PATCH):
            ctx.requires_action(REFUND_FAILED)
            await ctx.notify(NoticeKind.REFUND_DELAYED, delayed=delayed)
        elif ctx.state.refunded > 0:
            ctx.update(ReturnStatus.REFUNDED)
            await ctx.notify(kind, reason=reason)
        elif due == 0:
            ctx.update(ReturnStatus.CLOSED)  # received, inspected, nothing owed (or a claim on a free item)
            await ctx.notify(kind if ctx.request.kind is AfterSalesKind.CLAIM else NoticeKind.RETURN_RECEIVED)
        else:
            ctx.update(ReturnStatus.CLOSED)  # the refund failed: on the timeline for a person
