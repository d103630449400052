"""What people hand in to an RMA: a store associate or the warehouse records the receipt (with the inspection), the
label is sent again, an operator approves or declines a claim, the customer withdraws. Each is refused in its
validator with the reason (nothing enters the history), and answers once the RMA is settled."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.contract import Refusal
    from domain.returns import (
        ApprovalDecision,
        CancelReturn,
        ResendLabel,
        ReturnReceipt,
        ReturnStatus,
        ReturnView,
        WarehouseReceipt,
    )
    from notifications.notice import NoticeKind
    from workflows.returns import rules
    from workflows.returns.at_rest import AtRest
    from workflows.returns.context import APPROVAL_OVERDUE, LABEL_NOT_SENT, ReturnContext
    from workflows.returns.view import return_view

# A warehouse receipt counts each SKU once, up to what was requested (issue 14, scenario 25); receipts recorded
# before counted every line that was not over on its own, and their RMAs go on that way.
RECEIPTS_CAPPED = "warehouse-receipts-capped-per-sku"


@dataclass
class Decisions:
    ctx: ReturnContext
    rest: AtRest

    async def until_settled(self) -> ReturnView:
        """The RMA as it ended: what a decision's Update answers with."""
        await workflow.wait_condition(lambda: self.rest.settled)
        return return_view(self.ctx)

    # -- the items are back --------------------------------------------------------------------------------

    async def record_receipt(self, receipt: ReturnReceipt) -> ReturnView:
        self.ctx.state.receipt = receipt
        via = receipt.received_via or "api"
        where = f" at {receipt.location}" if receipt.location else ""
        self.ctx.journal.record("receipt", "info", f"recorded via {via}{where}")
        return await self.until_settled()

    def check_receipt(self, receipt: ReturnReceipt) -> None:
        ctx, s = self.ctx, self.ctx.state
        if not ctx.request.needs_return_shipment:
            raise _refused("a claim has no return shipment to receive")
        self._refuse_if_over()
        if s.receipt is not None:
            raise _refused("the items have already been received")
        if s.cancel is not None:
            raise _refused("the return is being cancelled")
        if receipt.lines is not None:
            requested = {line.sku: line.quantity for line in ctx.input.lines}
            seen: set[str] = set()
            for line in receipt.lines:
                if line.sku not in requested:
                    raise _refused(f"{line.sku} is not part of this return")
                if line.quantity > requested[line.sku]:
                    raise _refused(f"more {line.sku} received than requested ({requested[line.sku]})")
                if line.sku in seen:
                    raise _refused(f"{line.sku} appears twice")
                seen.add(line.sku)
            if not seen:
                raise _refused("a receipt names at least one line (or none, for everything)")

    def warehouse_receipt(self, receipt: WarehouseReceipt) -> None:
        """The ERP's ``return.received``: lines of other SKUs, or more than requested, are left out (and said so); a
        receipt we already have is a repeat."""
        ctx, s = self.ctx, self.ctx.state
        if receipt.event_id in s.seen_events:
            return
        s.seen_events.append(receipt.event_id)
        if s.receipt is not None or s.status.is_terminal or s.cancel is not None:
            ctx.journal.record("warehouse_receipt", "skipped", f"already {s.status.value}")
            return
        if not ctx.request.needs_return_shipment:
            ctx.journal.record("warehouse_receipt", "skipped", "a claim has no return shipment")
            return
        requested = {line.sku: line.quantity for line in ctx.input.lines}
        lines = [line for line in receipt.lines if line.quantity <= requested.get(line.sku, 0)]
        kept, left_out = rules.capped_receipt(requested, receipt.lines)
        if kept != lines and workflow.patched(RECEIPTS_CAPPED):
            lines = kept
            for line in left_out:
                what = f"{line.quantity} x {line.sku} ({line.disposition.value})"
                ctx.journal.record("warehouse_receipt", "failed", f"{what} more than requested, left out")
        elif len(lines) != len(receipt.lines):
            ctx.journal.record("warehouse_receipt", "failed", "lines not part of this RMA were left out")
        if not lines:
            return
        s.receipt = ReturnReceipt(location="warehouse", lines=lines)
        ctx.journal.record("receipt", "info", "reported by the warehouse")

    # -- the label again -------------------------------------------------------------------------------------

    async def resend_label(self, request: ResendLabel) -> ReturnView:
        """The label again, at once: answers with the RMA as it is once the message is out."""
        ctx, s = self.ctx, self.ctx.state
        ctx.journal.record("resend_label", "info", f"requested via {request.requested_via}")
        # An exchange whose first message never went out: the label comes with what the customer was never told
        # (the replacement on its way, its tracking), in the one message that says it all.
        confirmed = any(f".{NoticeKind.EXCHANGE_CONFIRMED.value}." in sent for sent in s.messages_sent)
        untold = ctx.request.wants_replacement and s.action_reason == LABEL_NOT_SENT and not confirmed
        if not await ctx.notify(NoticeKind.EXCHANGE_CONFIRMED if untold else NoticeKind.RETURN_LABEL):
            raise _refused("the label could not be delivered just now; try again later")
        if s.action_reason == LABEL_NOT_SENT:
            # The documented action for a label that never went out: the wait for the parcel starts now.
            s.waiting_since = workflow.now()
            ctx.action_resolved(ReturnStatus.LABEL_ISSUED)
        return return_view(ctx)

    def check_resend(self, request: ResendLabel) -> None:
        ctx, s = self.ctx, self.ctx.state
        self._refuse_if_over()
        if not ctx.request.needs_return_shipment or ctx.request.received_in_store or s.store_drop_off:
            raise _refused("this RMA has no return label")
        if not s.started or s.return_shipment is None:
            raise _refused("the return label is not ready yet")
        if s.expiring:
            raise _refused("the return has expired: its label is being cancelled")
        if s.receipt is not None:
            raise _refused("the items have already been received")
        if s.cancel is not None:
            raise _refused("the return is being cancelled")

    # -- an operator's approval ------------------------------------------------------------------------------

    async def decide_approval(self, decision: ApprovalDecision) -> ReturnView:
        self.ctx.state.decision = decision
        verdict = "approved" if decision.approved else "declined"
        note = f": {decision.note}" if decision.note else ""
        self.ctx.journal.record("approval", "info", f"{verdict} by {decision.operator}{note}")
        return await self.until_settled()

    def check_approval(self, decision: ApprovalDecision) -> None:
        ctx, s = self.ctx, self.ctx.state
        self._refuse_if_over()
        if s.decision is not None:
            raise _refused("a decision has already been given")
        if s.status is not ReturnStatus.AWAITING_APPROVAL and s.action_reason != APPROVAL_OVERDUE:
            raise _refused(f"nothing awaits approval (the {ctx.request.kind.value} is {s.status.value})")
        if s.cancel is not None:
            raise _refused("the claim is being cancelled")

    # -- the customer withdraws ------------------------------------------------------------------------------

    async def cancel(self, request: CancelReturn) -> ReturnView:
        self.ctx.state.cancel = request
        self.ctx.journal.record("cancel_requested", "info", f"via {request.requested_via}: {request.reason}")
        return await self.until_settled()

    def check_cancel(self, request: CancelReturn) -> None:
        s = self.ctx.state
        self._refuse_if_over()
        if s.no_return is not None:
            raise _refused(f"too late to cancel: {s.no_return}")
        if s.receipt is not None:
            raise _refused("too late to cancel: the items have been received")
        if s.decision is not None:
            raise _refused("too late to cancel: the claim is being settled")
        if s.cancel is not None:
            raise _refused("cancellation already requested")
        if s.expiring:
            raise _refused("the return has expired: its label is being cancelled")

    def _refuse_if_over(self) -> None:
        s = self.ctx.state
        if s.status.is_terminal:
            raise _refused(f"the {self.ctx.request.kind.value} is already {s.status.value}")


def _refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=Refusal.RETURN)
