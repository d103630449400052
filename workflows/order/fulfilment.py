"""The order's way to the customer: authorize, hold the stock, settle any shortage with the customer, then ship
parcels until nothing is owed, following those that already left while the rest waits for stock. A business
failure raises ``OrderAborted`` for ``Undo``."""

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.status import OrderStatus, PaymentStatus
    from notifications.notice import NoticeKind
    from workflows.order.context import OrderContext
    from workflows.order.payments import Payments
    from workflows.order.shipping import Shipping
    from workflows.order.stock import Stock
    from workflows.order.tracking import Tracking


@dataclass
class Fulfilment:
    """The saga's forward path, from the first authorization to the last parcel."""

    ctx: OrderContext
    payments: Payments
    stock: Stock
    shipping: Shipping
    tracking: Tracking

    async def run(self) -> None:
        ctx, s = self.ctx, self.ctx.state
        ctx.journal.doing(f"Authorizing {ctx.journal.money(ctx.order.total)} and holding the stock")
        if not s.authorizations:
            await self.payments.authorize(ctx.order.total)
            ctx.update(payment=PaymentStatus.AUTHORIZED)
            ctx.checkpoint.stop_if_asked()
        if not s.holds:
            await self.stock.reserve(ctx.order.lines)
        if ctx.missing() and s.backorder is None:
            await self.stock.settle_backorder()
        elif s.status is OrderStatus.PENDING:
            ctx.checkpoint.stop_if_asked()  # never confirm an order the customer has already cancelled
            ctx.update(status=OrderStatus.CONFIRMED)
            await ctx.notify(NoticeKind.ORDER_CONFIRMED)
        while True:
            ctx.checkpoint.stop_if_asked()
            if s.held() and not self.stock.holding_back():
                await self.shipping.ship_wave()
                continue
            if not ctx.unshipped():
                return
            await self.tracking.alongside(self.stock.wait_for_stock)  # what already left is still followed
