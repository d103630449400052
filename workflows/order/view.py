"""What anyone may ask about an order (the ``view`` query, and the workflow's result)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.order_view import OrderView, initial_view
    from workflows.kit.views import view_of
    from workflows.order.context import OrderContext

SHOWN = (
    "status",
    "payment_status",
    "fulfillment_status",
    "shipments",
    "timeline",
    "failure_reason",
    "compensations",
    "messages_sent",
    "messages",
    "backorder",
    "canceled_lines",
    "delivered_at",
    "action_required",
)
"""State fields the view shows as they are."""


def order_view(ctx: OrderContext) -> OrderView:
    s = ctx.state
    payments = [a.payment for a in s.authorizations if a.payment is not None]
    return view_of(
        initial_view(ctx.order),
        s,
        SHOWN,
        captured=sum(p.captured for p in payments) + s.charged_after_sales,
        refunded=sum(p.refunded for p in payments),
        returns=list(s.rmas),
        return_window_ends=s.delivered_at + ctx.policy.returns.window if s.delivered_at else None,
    )
