"""Messages the customer must get that the email provider refused (``rules.MUST_BE_TOLD``: the order or items
dropped, a parcel lost or sent back, a refund delayed). The customer is told once when something goes wrong, so such
a message is not left on the timeline for nobody: the order goes to ``requires_action`` (``customer not told``, in
the ``ActionReason`` search attribute) and waits, open, for the operator's retry (``retry_actions``), which sends each
message again as it was built, under the same notification id (a repeat the provider did deliver is dropped by the
customer's mailbox, never read twice)."""

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.order_view import ActionRequired, RetryRequest
    from workflows.kit.notices import send_notice
    from workflows.order import rules
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderContext


@dataclass
class Untold:
    ctx: OrderContext
    rest: AtRest

    def waiting(self) -> bool:
        return bool(self.ctx.state.untold)

    async def until_resolved(self) -> None:
        """The story is over but a message the customer must get was refused: wait for the operator's retry."""
        s = self.ctx.state
        if not s.untold:
            return
        self.ctx.journal.doing(f"Waiting for a person: {ActionRequired.CUSTOMER_NOT_TOLD.value}")
        await self.rest.rest_until(lambda: not s.untold)

    async def retry(self, request: RetryRequest) -> None:
        """The operator's retry: every refused message goes out again under its notification id; once none is left
        the reason is cleared and the order takes the status its story gave it."""
        ctx, s = self.ctx, self.ctx.state
        if not s.untold:
            return
        ctx.journal.record("retry_messages", "info", request.note or "asked by an operator")
        refused_again = [notice for notice in list(s.untold) if not await send_notice(ctx.journal, s, notice)]
        s.untold = refused_again
        if refused_again:
            return
        s.action_required = [a for a in s.action_required if a is not ActionRequired.CUSTOMER_NOT_TOLD]
        if not s.action_required:
            ctx.update(status=rules.settled_status(s, bool(ctx.unshipped())))
