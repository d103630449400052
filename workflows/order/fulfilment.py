"""The order's way to the customer: authorize, hold the stock, settle any shortage with the customer, then ship
parcels until nothing is owed. A business failure raises ``OrderAborted`` for ``Undo``."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.status import OrderStatus, PaymentStatus
    from notifications.notice import NoticeKind
    from workflows.order.context import OrderContext
    from workflows.order.payments import Payments
    from workflows.order.shipping import Shipping
    from workflows.order.stock import Stock


class Fulfilment:
    def __init__(self, ctx: OrderContext, payments: Payments, stock: Stock, shipping: Shipping) -> None:
        self._ctx = ctx
        self._payments = payments
        self._stock = stock
        self._shipping = shipping

    async def run(self) -> None:
        ctx, s = self._ctx, self._ctx.state
        ctx.journal.doing(f"Authorizing {ctx.journal.money(ctx.order.total)} and holding the stock")
        if not s.authorizations:
            await self._payments.authorize(ctx.order.total)
            ctx.update(payment=PaymentStatus.AUTHORIZED)
            ctx.checkpoint.stop_if_asked()
        if not s.holds:
            await self._stock.reserve(ctx.order.lines)
        if ctx.missing() and s.backorder is None:
            await self._stock.settle_backorder()
        elif s.status is OrderStatus.PENDING:
            ctx.checkpoint.stop_if_asked()  # never confirm an order the customer has already cancelled
            ctx.update(status=OrderStatus.CONFIRMED)
            await ctx.notify(NoticeKind.ORDER_CONFIRMED)
        while True:
            ctx.checkpoint.stop_if_asked()
            if s.held() and not self._stock.holding_back():
                await self._shipping.ship_wave()
                continue
            if not ctx.unshipped():
                return
            await self._stock.wait_for_stock()
