"""An exchange whose replacement has shipped and whose item never came back, when it expires: the retailer's
``ReturnPolicy.unreturned_exchange`` says whether the customer is charged for the replacement, a person decides, or
the retailer absorbs it. Never an exchange that quietly ends with the customer holding both items."""

from dataclasses import dataclass
from typing import NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.returns import AfterSalesKind, ReturnStatus, UnreturnedExchange
    from notifications.notice import NoticeKind
    from workflows.returns.context import EXCHANGE_NOT_RETURNED, ReturnContext, RmaEnded
    from workflows.returns.refunds import Refunds


@dataclass
class NotReturned:
    ctx: ReturnContext
    refunds: Refunds

    def applies(self) -> bool:
        """The customer has the replacement and still holds the item it replaced."""
        return self.ctx.request.kind is AfterSalesKind.EXCHANGE and self.ctx.state.replacement_shipped

    async def settle(self) -> NoReturn:
        """Charge, flag or absorb, as the policy says (a refused charge is flagged), tell the customer, end."""
        ctx, s = self.ctx, self.ctx.state
        choice = ctx.policy.unreturned_exchange
        if choice is UnreturnedExchange.CHARGE and await self.refunds.charge(ctx.input.value):
            ctx.update(ReturnStatus.EXPIRED)
            await ctx.notify(NoticeKind.EXCHANGE_CHARGED, charged=s.charged)
        elif choice is UnreturnedExchange.ABSORB:
            value = ctx.journal.money(ctx.input.value)
            ctx.journal.record(
                "unreturned_exchange", "info", f"the replacement ({value}) is absorbed, as the policy says"
            )
            ctx.update(ReturnStatus.EXPIRED)
            await ctx.notify(NoticeKind.RETURN_EXPIRED)
        else:
            ctx.requires_action(EXCHANGE_NOT_RETURNED)
            await ctx.notify(NoticeKind.RETURN_EXPIRED)
        raise RmaEnded
