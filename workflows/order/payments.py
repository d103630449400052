"""Where the order's money moves: every authorization, capture, void and refund of the order's own flow, and
what its RMAs may refund. An authorization is recorded *before* its call, so an answer lost in transit is still
reversed; a card authorization is captured once, so what still waits after a capture is authorized afresh
(``payment.authorize:{n}``), and renewed before the card network lets it lapse."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.payment import AuthorizePayment, CapturePayment, PaymentActivities, RefundPayment, ReversePayment
    from domain.currency import format_amount
    from domain.keys import idempotency_key
    from domain.order_view import ActionRequired, FailureReason
    from domain.payment import Payment
    from domain.returns import ReturnOutcome
    from domain.shipments import ShipmentView
    from domain.status import PaymentStatus
    from notifications.notice import Undone
    from workflows import policies
    from workflows.failures import error_text
    from workflows.order import rules
    from workflows.order.context import OrderAborted, OrderContext
    from workflows.order.state import Authorization, RefusedUndo, RmaAllocation

# A reversal asked again reports what it did (``PaymentActivities.reverse``), so an authorization voided when it
# was renewed is no longer reversed at abort (it would be counted twice). Histories from before keep doing it.
RENEWED_NOT_REVERSED = "renewed-authorizations-not-reversed"
# A void refused before a renewal leaves the old authorization to a person and renews; before, it failed the
# workflow.
UNVOIDED_RENEWAL_GOES_ON = "unvoided-renewal-goes-on"


@dataclass
class Payments:
    ctx: OrderContext

    async def authorize(self, amount: int) -> Payment:
        """Authorize ``amount`` as the order's next authorization; a decline aborts what has not shipped."""
        ctx, s = self.ctx, self.ctx.state
        authorization = Authorization(n=len(s.authorizations) + 1, amount=amount, at=workflow.now())
        s.authorizations.append(authorization)
        try:
            payment: Payment = await ctx.step(
                "authorize_payment",
                PaymentActivities.authorize,
                AuthorizePayment(
                    order_id=ctx.order.order_id,
                    amount=amount,
                    currency=ctx.order.currency,
                    payment_method=ctx.order.payment_method,
                    n=authorization.n,
                ),
                lambda p: f"authorized {format_amount(p.authorized, p.currency)}",
                summary=f"Authorizing {ctx.journal.money(amount)} (authorization {authorization.n})",
            )
        except OrderAborted:
            authorization.ended = True
            raise
        authorization.payment = payment
        return payment

    async def capture(self, value: int, parcel: str) -> Authorization:
        """Capture a parcel's value on the live authorization (which then covers nothing more). From here the
        money moves: the customer can no longer cancel."""
        ctx, s = self.ctx, self.ctx.state
        authorization = s.current_authorization()
        if authorization is None or authorization.payment is None:  # cannot happen; if it did, end, don't hang
            ctx.journal.record("capture_payment", "failed", "no live authorization covers this parcel")
            raise OrderAborted(FailureReason.SYSTEM_ERROR)
        s.capturing = True
        authorization.parcel = parcel
        captured: Payment = await ctx.step(
            "capture_payment",
            PaymentActivities.capture,
            CapturePayment(
                order_id=ctx.order.order_id,
                payment=authorization.payment,
                amount=value,
                n=sum(1 for a in s.authorizations if a.parcel),
            ),
            lambda p: f"captured {format_amount(p.captured, p.currency)}",
            summary=f"Capturing {ctx.journal.money(value)} for shipment {parcel.rsplit(':', 1)[-1]}",
        )
        authorization.payment, authorization.ended = captured, True
        return authorization

    async def authorize_what_waits(self) -> None:
        """After a wave of parcels, what still waits for stock is authorized afresh (a capture ends an
        authorization); a decline drops what waits."""
        remaining = self.ctx.unshipped_value()
        if remaining and self.ctx.state.current_authorization() is None:
            try:
                await self.authorize(remaining)
            except OrderAborted:
                raise OrderAborted(FailureReason.AUTHORIZATION_RENEWAL_DECLINED) from None

    async def renew(self) -> None:
        """Void the ageing authorization, then authorize again what it still covers. A decline drops what waits."""
        ctx, s = self.ctx, self.ctx.state
        current = s.current_authorization()
        if current is None:
            return
        amount = ctx.unshipped_value()
        try:
            reversal = await workflow.execute_activity_method(
                PaymentActivities.reverse,
                ReversePayment(order_id=ctx.order.order_id, n=current.n, refund_captured=False),
                summary=f"Voiding authorization {current.n} before it lapses",
                **policies.COMPENSATION,
            )
        except ActivityError as error:
            if not workflow.patched(UNVOIDED_RENEWAL_GOES_ON):
                raise
            # The order goes on with a fresh authorization (the old one lapses by itself within days); a person
            # voids the old one meanwhile, so the customer's card is not held twice.
            ctx.journal.record("renew_authorization", "failed", error_text(error))
            s.refused_undo.append(RefusedUndo(step="renewal", target=str(current.n)))
            ctx.needs_person(ActionRequired.PAYMENT_REVERSAL_REFUSED, f"authorization {current.n} not voided")
        else:
            ctx.journal.record(
                "renew_authorization",
                "info",
                f"voided authorization {current.n} ({ctx.journal.money(reversal.voided)})",
            )
        current.ended = current.renewed = True
        try:
            await self.authorize(amount)
        except OrderAborted:
            ctx.update(payment=PaymentStatus.AUTH_EXPIRED)
            raise OrderAborted(FailureReason.AUTHORIZATION_RENEWAL_DECLINED) from None

    # -- undoing: each a no-op when its step never happened --------------------------------------------------

    def needs_reversal(self, authorization: Authorization) -> bool:
        """Whether the undo must reverse this authorization: it covers goods that did not leave."""
        if authorization.renewed and workflow.patched(RENEWED_NOT_REVERSED):
            return False  # voided before it lapsed, and authorized again: nothing of it left to undo
        return authorization.parcel is None or not self.ctx.state.parcel_left(authorization.parcel)

    async def void_renewed(self, authorization: Authorization) -> None:
        """An operator's retry of the void refused before a renewal: only what it still holds is voided; the order's
        payment status is the newer authorization's business."""
        reversal = await workflow.execute_activity_method(
            PaymentActivities.reverse,
            ReversePayment(order_id=self.ctx.order.order_id, n=authorization.n, refund_captured=False),
            summary=f"Voiding authorization {authorization.n}, renewed already",
            **policies.COMPENSATION,
        )
        self.ctx.journal.record(
            "renew_authorization",
            "info",
            f"voided authorization {authorization.n} ({self.ctx.journal.money(reversal.voided)})",
        )

    async def reverse(self, authorization: Authorization) -> None:
        """Void what the authorization still holds, refund what it captured for a parcel that never left."""
        ctx, s = self.ctx, self.ctx.state
        reversal = await workflow.execute_activity_method(
            PaymentActivities.reverse,
            ReversePayment(order_id=ctx.order.order_id, n=authorization.n),
            summary=f"Undo: voiding or refunding authorization {authorization.n}",
            **policies.COMPENSATION,
        )
        authorization.ended = True
        if reversal.voided:
            ctx.update(payment=PaymentStatus.VOIDED)
            s.undone.append(Undone.PAYMENT_VOIDED)
            ctx.note_undone("payment voided", ctx.journal.money(reversal.voided))
        if reversal.refunded:
            if authorization.payment is not None:  # the view's refunded is what the provider refunded
                payment = authorization.payment
                refunded = payment.refunded + reversal.refunded
                # A capture whose answer was lost and whose retry was refused took the money all the same: the
                # provider refunds it now, so the view counts it as captured too (and never refunded > captured).
                captured = max(payment.captured, refunded)
                authorization.payment = payment.model_copy(update={"captured": captured, "refunded": refunded})
            ctx.update(payment=PaymentStatus.REFUNDED)
            s.undone.append(Undone.PAYMENT_REFUNDED)
            ctx.note_undone("payment refunded", ctx.journal.money(reversal.refunded))
        s.amount_returned += reversal.voided + reversal.refunded

    async def refund_parcel(self, shipment: ShipmentView) -> int | None:
        """Give back what a parcel that never reached the customer (lost, returned to sender) captured, to the
        payment that captured it, under a key derived from the parcel (``{order}:parcel.refund:{n}``); the amount
        refunded, ``None`` when the provider refused (a person takes over)."""
        ctx, s = self.ctx, self.ctx.state
        authorization = next((a for a in s.authorizations if a.parcel == shipment.reference), None)
        payment = authorization.payment if authorization else None
        if authorization is None or payment is None:
            return 0  # nothing was captured for it
        amount = min(shipment.value, payment.refundable)
        if amount <= 0:
            return 0
        try:
            refunded: Payment = await workflow.execute_activity_method(
                PaymentActivities.refund,
                RefundPayment(
                    payment=payment,
                    amount=amount,
                    idempotency_key=idempotency_key(ctx.order.order_id, "parcel.refund", shipment.shipment_no),
                ),
                summary=f"Refunding {ctx.journal.money(amount)} for shipment {shipment.shipment_no}",
                **policies.COMPENSATION,
            )
        except ActivityError as error:
            ctx.journal.record("refund_parcel", "failed", f"shipment {shipment.shipment_no}: {error_text(error)}")
            return None
        authorization.payment = refunded
        ctx.journal.record(
            "refund_parcel", "succeeded", f"shipment {shipment.shipment_no}: {ctx.journal.money(amount)}"
        )
        self._refunds_changed()
        return amount

    def _refunds_changed(self) -> None:
        s = self.ctx.state
        refunded = sum(a.payment.refunded for a in s.authorizations if a.payment is not None)
        captured = sum(a.payment.captured for a in s.authorizations if a.payment is not None)
        self.ctx.update(payment=PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED)

    # -- after-sales: what an RMA may refund, and what it did -------------------------------------------------

    def allocate(self, rma_id: str, lines: dict[str, int]) -> list[Payment]:
        """Fix what a new RMA may refund from each captured authorization, and hand it the payments as it may see
        them (refundable up to its budget), so concurrent RMAs never over-refund."""
        ctx, s = self.ctx, self.ctx.state
        value = sum(n * ctx.unit_price(sku) for sku, n in lines.items())
        s.rmas[rma_id] = RmaAllocation(
            lines=lines, budget=rules.refund_budget(value, s.authorizations, s.rmas.values())
        )
        budget = s.rmas[rma_id].budget
        payments = [
            rules.budgeted(a.payment, budget.get(a.n, 0))
            for a in s.authorizations
            if a.payment is not None and a.payment.captured
        ]
        return [p for p in payments if p.refundable > 0]

    def settle(self, outcome: ReturnOutcome) -> None:
        """An RMA ended: what it refunded is taken from its budget, oldest authorization first; what it charged anew
        counts as captured."""
        s = self.ctx.state
        s.charged_after_sales += outcome.charged
        rma = s.rmas[outcome.rma_id]
        left = outcome.refunded
        for authorization in s.authorizations:
            share = min(left, rma.budget.get(authorization.n, 0))
            if share and authorization.payment is not None:
                payment = authorization.payment
                authorization.payment = payment.model_copy(update={"refunded": payment.refunded + share})
                left -= share
        if outcome.refunded:
            self._refunds_changed()
