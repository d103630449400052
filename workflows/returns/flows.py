"""The RMA's way from request to settlement.

- A return (web, phone): the prepaid return label bought and sent, the parcel awaited, the receipt inspected per
  line and reported to the ERP, the refund. A store return (story 5) has no label: the receipt follows at once.
- An exchange (story 3): the return label, and the replacement shipped at no charge, told in one message; then the
  item sent back is awaited like a return. Never a refund.
- A claim (damaged, missing, wrong item): no return shipment; above the approval limit an operator decides; then a
  refund, or a replacement (refunded instead if none can ship).
A business failure raises ``RmaAborted`` for ``Undo``."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReceiveReturn
    from activities.shipping import BuyLabel, ShippingActivities
    from domain.inventory import ReturnedStock
    from domain.returns import AfterSalesKind, Disposition, InspectedLine, Resolution, ReturnedLine, ReturnStatus
    from domain.shipping import Label
    from domain.status import FulfillmentStatus
    from notifications.notice import NoticeKind
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.parcels import describe_label, shipment_from_label
    from workflows.returns import rules
    from workflows.returns.context import (
        APPROVAL_OVERDUE,
        LABEL_NOT_SENT,
        REPLACEMENT_NOT_DELIVERED,
        ReturnContext,
        RmaAborted,
    )
    from workflows.returns.refunds import Refunds
    from workflows.returns.replacement import Replacement
    from workflows.returns.undo import Undo
    from workflows.returns.waiting import Waiting

LABEL_NOT_SENT_PATCH = "rma-label-not-sent"
"""A label message that failed used to leave the RMA ``label_issued``: histories from then replay that way."""
# A return opened in a store (channel ``store``) buys no carrier label: the customer brings the items back to a
# store (issue 14, scenario 30). RMAs opened before were labelled, and go on that way.
STORE_RETURNS_UNLABELLED = "store-returns-unlabelled"
# A claim waits for an operator until ``ReturnPolicy.approval_deadline`` (issue 14, scenario 27); claims opened
# before waited with no timer, and go on that way.
CLAIM_APPROVAL_DEADLINE = "claim-approval-deadline"
# The unused return label of an RMA whose items were handed in at a store is voided (issue 14, scenario 30).
STORE_RECEIPT_VOIDS_LABEL = "store-receipt-voids-unused-label"

CLAIM_ENDS_ON_DELIVERY_PATCH = "rma-claim-ends-on-delivery"
"""A claim resolved by replacement used to end ``exchanged`` as it shipped: histories from then replay that way."""


@dataclass
class Flows:
    ctx: ReturnContext
    undo: Undo
    replacement: Replacement
    refunds: Refunds
    waiting: Waiting

    async def run(self) -> None:
        if self.ctx.request.kind is AfterSalesKind.CLAIM:
            await self._claim()
        else:
            await self._return()

    async def _return(self) -> None:
        """A return or an exchange: everything that comes back is awaited, inspected and reported."""
        ctx, s, request = self.ctx, self.ctx.state, self.ctx.request
        if not s.started:
            s.store_drop_off = request.received_in_store or (
                request.channel == "store" and workflow.patched(STORE_RETURNS_UNLABELLED)
            )
            if not s.store_drop_off:
                self.undo.before("return_label")
                await self._buy_return_label()
                ctx.stop_if_cancel_requested()
            if request.wants_replacement:
                await self.replacement.ship()
            self.undo.past_point_of_no_return()
            s.started = True
            s.waiting_since = workflow.now()
            told = False
            if request.wants_replacement:
                told = await ctx.notify(NoticeKind.EXCHANGE_CONFIRMED)
            elif s.return_shipment is not None:
                told = await ctx.notify(NoticeKind.RETURN_LABEL)
            elif ctx.to_bring_to_store():
                await ctx.notify(NoticeKind.RETURN_IN_STORE)
            if s.return_shipment is not None:
                if not told and workflow.patched(LABEL_NOT_SENT_PATCH):
                    # The customer cannot send anything back without it: a person fixes the contact and resends.
                    ctx.requires_action(LABEL_NOT_SENT)
                else:
                    ctx.update(ReturnStatus.LABEL_ISSUED)
        await self.waiting.for_receipt()
        await self._settle_receipt()

    async def _buy_return_label(self) -> None:
        """A return label names the customer's address; the carrier swaps the addresses for a return."""
        ctx, input = self.ctx, self.ctx.input
        label: Label = await ctx.step(
            "buy_return_label",
            ShippingActivities.buy_label,
            BuyLabel(
                order_id=input.order_id,
                reference=ctx.key("return-label"),
                address=input.address,
                name=input.customer.name,
                is_return=True,
            ),
            describe_label,
            summary=f"Buying the return label for {ctx.request.kind.value} {ctx.request.rma_id}",
        )
        ctx.state.return_shipment = shipment_from_label(label, 1, input.lines)

    async def _claim(self) -> None:
        """A claim: no return shipment; an operator's approval above the limit; then refund or replace."""
        ctx, s = self.ctx, self.ctx.state
        value = ctx.input.value
        if not s.started:
            s.started = True
            limit = ctx.policy.claim_approval_limit
            if value > limit:
                ctx.journal.record(
                    "approval", "info", f"{ctx.journal.money(value)} is above the {ctx.journal.money(limit)} limit"
                )
                ctx.update(ReturnStatus.AWAITING_APPROVAL)
                if workflow.patched(CLAIM_APPROVAL_DEADLINE):
                    s.approval_due = workflow.now() + ctx.policy.approval_deadline
                await ctx.notify(NoticeKind.CLAIM_RECEIVED)
        if s.status is ReturnStatus.AWAITING_APPROVAL or s.action_reason == APPROVAL_OVERDUE:
            decision = await self.waiting.for_decision()
            if not decision.approved:
                ctx.update(ReturnStatus.DECLINED)
                await ctx.notify(NoticeKind.CLAIM_DECLINED)
                return
        if s.replacement_shipped:  # a later run: the replacement is on its way
            await self._replacement_delivered()
            return
        ctx.stop_if_cancel_requested()
        s.no_return = "the claim is being settled"
        if ctx.request.resolution is Resolution.REPLACE:
            try:
                await self.replacement.ship()
            except RmaAborted as abort:
                # The customer is owed the goods or their price: no replacement can ship, so refund instead.
                await self.undo.unwind()
                ctx.journal.record("replacement", "failed", f"{abort.reason.value}: refunding the claim instead")
                await self.refunds.refund(value)
                await self.refunds.settle(NoticeKind.CLAIM_APPROVED, value, reason=abort.reason)
                return
            self.undo.past_point_of_no_return()
            if not workflow.patched(CLAIM_ENDS_ON_DELIVERY_PATCH):
                ctx.update(ReturnStatus.EXCHANGED)
                await ctx.notify(NoticeKind.REPLACEMENT_SHIPPED)
                return
            ctx.update(ReturnStatus.REPLACEMENT_SHIPPED)
            await ctx.notify(NoticeKind.REPLACEMENT_SHIPPED)
            await self._replacement_delivered()
            return
        await self.refunds.refund(value)
        await self.refunds.settle(NoticeKind.CLAIM_APPROVED, value)

    async def _replacement_delivered(self) -> None:
        """A claim is settled when the customer has the replacement, not when it leaves the warehouse."""
        if await self.waiting.for_replacement():
            self.ctx.update(ReturnStatus.EXCHANGED)
        else:
            self.ctx.requires_action(REPLACEMENT_NOT_DELIVERED)

    async def _settle_receipt(self) -> None:
        """Inspection per line, the ERP told, then the refund (a return) or nothing more (an exchange)."""
        ctx, s = self.ctx, self.ctx.state
        receipt = s.receipt
        assert receipt is not None
        s.no_return = "the items have been received"
        inspected = receipt.lines
        if inspected is None:
            inspected = [InspectedLine(sku=line.sku, quantity=line.quantity) for line in ctx.input.lines]
        s.returned = [
            ReturnedLine(sku=line.sku, quantity=line.quantity, disposition=line.disposition) for line in inspected
        ]
        if s.action_reason is not None:
            ctx.action_resolved(ReturnStatus.RECEIVED)  # what a person was asked to see to has come in
        else:
            ctx.update(ReturnStatus.RECEIVED)
        ctx.journal.record(
            "inspection", "succeeded", ", ".join(f"{r.quantity} x {r.sku} {r.disposition.value}" for r in s.returned)
        )
        label = s.return_shipment
        unused = label is not None and label.status in (FulfillmentStatus.OPEN, FulfillmentStatus.LABEL_CREATED)
        if unused and rules.received_in_store(ctx.request, receipt) and workflow.patched(STORE_RECEIPT_VOIDS_LABEL):
            await self.undo.void_unused_label()  # the retailer pays for a label only if it carries a parcel
        await self._report_receipt()
        if ctx.request.kind is AfterSalesKind.EXCHANGE:
            ctx.update(ReturnStatus.EXCHANGED)
            await ctx.notify(NoticeKind.RETURN_RECEIVED)
            return
        due = self.refunds.due()
        await self.refunds.refund(due)
        await self.refunds.settle(NoticeKind.RETURN_REFUNDED, due)

    async def _report_receipt(self) -> None:
        """The ERP restocks what is resaleable. Idempotent by our receipt id, so the warehouse's own report (its
        ``return.received`` event) and ours agree. A failure is left to a person: the customer does not wait on
        our ERP for their money."""
        ctx, s = self.ctx, self.ctx.state
        try:
            await workflow.execute_activity_method(
                InventoryActivities.receive_return,
                ReceiveReturn(
                    order_id=ctx.input.order_id,
                    receipt_id=ctx.key("receipt"),
                    lines=[
                        ReturnedStock(sku=r.sku, quantity=r.quantity, disposition=r.disposition) for r in s.returned
                    ],
                ),
                summary=f"Reporting the receipt of {ctx.request.rma_id} to the ERP",
                **policies.STEP,
            )
        except ActivityError as error:
            ctx.journal.record("report_receipt", "failed", error_text(error))
            return
        restocked = sum(r.quantity for r in s.returned if r.disposition is Disposition.RESTOCK)
        ctx.journal.record("report_receipt", "succeeded", f"{restocked} units back in stock")
