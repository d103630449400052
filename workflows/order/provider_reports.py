"""What the payment provider reports about the order's money (verified webhooks), counted where it belongs: a
refund made outside the hub (the provider's dashboard) is what it is, money back to the customer, so it counts in
the view's ``refunded``, the payment status and what RMAs may still refund; a refund the provider later reports
failed is no longer counted as done, the customer is told it is delayed (once) and a person asked for; a dispute
asks for a person with its reason. Refunds the hub made itself are counted where it made them (the undo, the
RMAs), never twice. Each refund is counted once by its provider id, however often it is reported."""

import asyncio
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.events import EventKind, UpstreamEvent
    from domain.order_view import ActionRequired
    from domain.status import PaymentStatus
    from notifications.notice import NoticeKind
    from workflows.order.context import OrderContext
    from workflows.order.state import Authorization

PROVIDER_REPORTS_COUNTED = "provider-reported-refunds-counted"
"""Refund and dispute webhooks used to be written to the timeline only (issue 14, scenario 26): histories from then
replay that way."""


@dataclass
class ProviderReports:
    ctx: OrderContext

    def receive(self, event: UpstreamEvent) -> None:
        """A refund or dispute event (already deduplicated by its event id)."""
        ctx = self.ctx
        if not workflow.patched(PROVIDER_REPORTS_COUNTED):
            self._journal_only(event)
        elif event.kind is EventKind.REFUND_SUCCEEDED:
            self._refunded(event)
        elif event.kind is EventKind.REFUND_FAILED:
            self._refund_failed(event)
        else:
            self._journal_only(event)
            ctx.needs_person(ActionRequired.PAYMENT_DISPUTED, _ANSWER_DISPUTE)

    def _refunded(self, event: UpstreamEvent) -> None:
        ctx, s = self.ctx, self.ctx.state
        known = event.refund_id is None or event.refund_id in s.refunds_elsewhere or event.refund_id in s.failed_refunds
        authorization = self._authorization(event)
        if self._made_by_the_hub(event) or known or authorization is None or authorization.payment is None:
            self._journal_only(event)  # counted where the hub made it, or already, or not this order's payment
            return
        assert event.refund_id is not None
        payment = authorization.payment
        amount = min(event.amount or 0, payment.refundable)
        authorization.payment = payment.model_copy(update={"refunded": payment.refunded + amount})
        s.refunds_elsewhere[event.refund_id] = amount
        ctx.journal.record(
            "refund",
            "succeeded",
            f"{ctx.journal.money(amount)} refunded outside the hub (authorization {authorization.n})",
        )
        self._payment_status()

    def _refund_failed(self, event: UpstreamEvent) -> None:
        """A refund counted as done did not happen: uncounted, the customer told it is delayed, a person asked for."""
        ctx, s = self.ctx, self.ctx.state
        refund_id = event.refund_id or event.event_id
        if refund_id in s.failed_refunds:
            return
        s.failed_refunds.append(refund_id)
        authorization = self._authorization(event)
        counted = self._made_by_the_hub(event) or refund_id in s.refunds_elsewhere
        amount = event.amount or 0
        if counted and authorization is not None and authorization.payment is not None:
            payment = authorization.payment
            amount = min(amount, payment.refunded)
            authorization.payment = payment.model_copy(update={"refunded": payment.refunded - amount})
            s.refunds_elsewhere.pop(refund_id, None)
            self._payment_status()
        why = event.reason or "no reason given"
        ctx.journal.record("refund", "failed", f"{ctx.journal.money(amount)} not refunded after all ({why})")
        ctx.needs_person(ActionRequired.REFUND_FAILED, "refund the customer by hand at the payment provider")
        # A signal handler cannot wait for the message: the run ends or continues as new only once it is out.
        task = asyncio.create_task(ctx.notify(NoticeKind.REFUND_DELAYED, refunded=0, delayed=amount))
        ctx.telling.add(task)
        task.add_done_callback(ctx.telling.discard)

    def _made_by_the_hub(self, event: UpstreamEvent) -> bool:
        """The refund carries one of this order's keys: the hub made it and counted it where it did."""
        reference = event.hub_reference
        return reference is not None and reference.startswith(f"{self.ctx.order.order_id}:")

    def _authorization(self, event: UpstreamEvent) -> Authorization | None:
        return next(
            (
                a
                for a in self.ctx.state.authorizations
                if a.payment is not None and event.payment_id is not None and a.payment.payment_id == event.payment_id
            ),
            None,
        )

    def _payment_status(self) -> None:
        payments = [a.payment for a in self.ctx.state.authorizations if a.payment is not None and a.payment.captured]
        captured, refunded = sum(p.captured for p in payments), sum(p.refunded for p in payments)
        if not captured:
            return
        if refunded >= captured:
            self.ctx.update(payment=PaymentStatus.REFUNDED)
        else:
            self.ctx.update(payment=PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.CAPTURED)

    def _journal_only(self, event: UpstreamEvent) -> None:
        """What these events did before they counted: a line on the timeline."""
        ctx = self.ctx
        if event.kind is EventKind.REFUND_SUCCEEDED:
            ctx.journal.record("refund", "succeeded", ctx.journal.money(event.amount or 0))
        elif event.kind is EventKind.REFUND_FAILED:
            ctx.journal.record("refund", "failed", event.reason)
        else:
            ctx.journal.record(
                "dispute",
                "failed",
                f"opened: {event.reason or 'no reason given'}, {ctx.journal.money(event.amount or 0)}",
            )


_ANSWER_DISPUTE = "answer the dispute at the payment provider (submit evidence, or accept it)"
