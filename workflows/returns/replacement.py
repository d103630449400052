"""The goods the customer gets instead (an exchange, or a claim resolved by replacement): reserved, labelled and
committed at no charge. The commit is the point of no return: once the replacement ships, nothing in the RMA can
refund it and the customer can no longer cancel (story 3)."""

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReserveStock
    from activities.shipping import BuyLabel, ShippingActivities
    from domain.inventory import Hold, StockRequest
    from domain.order_view import FailureReason
    from domain.shipping import Label
    from workflows.kit.parcels import describe_label, shipment_from_label
    from workflows.returns.context import ReturnContext, RmaAborted
    from workflows.returns.undo import Undo


@dataclass
class Replacement:
    ctx: ReturnContext
    undo: Undo

    async def ship(self) -> None:
        """Reserve, label and commit the replacement; a shortage or a refused label aborts (undone by the caller)."""
        ctx, s, input = self.ctx, self.ctx.state, self.ctx.input
        hold_id = ctx.key("replacement-hold")
        units = sum(line.quantity for line in input.lines)
        self.undo.before("replacement_stock")
        hold: Hold = await ctx.step(
            "reserve_replacement",
            InventoryActivities.reserve,
            ReserveStock(
                order_id=input.order_id,
                hold_id=hold_id,
                lines=[StockRequest(sku=line.sku, quantity=line.quantity) for line in input.lines],
            ),
            lambda h: f"held {h.units_held} units",
            summary=f"Holding {units} units for the replacement as {hold_id}",
        )
        if hold.short_lines:
            short = ", ".join(f"{line.sku} (missing {line.short})" for line in hold.short_lines)
            ctx.journal.record("reserve_replacement", "failed", f"short: {short}")
            raise RmaAborted(FailureReason.OUT_OF_STOCK)
        ctx.stop_if_cancel_requested()
        self.undo.before("replacement_label")
        label: Label = await ctx.step(
            "buy_replacement_label",
            ShippingActivities.buy_label,
            BuyLabel(
                order_id=input.order_id,
                reference=ctx.key("replacement-label"),
                address=input.address,
                name=input.customer.name,
            ),
            describe_label,
            summary=f"Buying the replacement's label ({ctx.journal.money(input.value)} of goods)",
        )
        s.replacement_shipment = shipment_from_label(label, 1, input.lines)
        ctx.stop_if_cancel_requested()
        s.no_return = "the replacement has shipped"
        await ctx.step(
            "commit_replacement",
            InventoryActivities.commit,
            HoldRef(hold_id=hold_id),
            summary=f"Committing {hold_id}: the replacement leaves the warehouse",
        )
        s.replacement_shipped = True
