"""What anyone may ask about an order (the ``view`` query, and the workflow's result)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.order_view import OrderView, initial_view
    from workflows.order.context import OrderContext


def order_view(ctx: OrderContext) -> OrderView:
    s = ctx.state
    captured = sum(a.payment.captured for a in s.authorizations if a.payment is not None)
    refunded = sum(a.payment.refunded for a in s.authorizations if a.payment is not None)
    return initial_view(ctx.order).model_copy(
        update={
            "status": s.status,
            "payment_status": s.payment_status,
            "fulfillment_status": s.fulfillment_status,
            "shipments": s.shipments,
            "timeline": s.timeline,
            "failure_reason": s.failure_reason,
            "compensations": s.compensations,
            "messages_sent": s.messages_sent,
            "messages": s.messages,
            "backorder": s.backorder,
            "canceled_lines": s.canceled_lines,
            "captured": captured,
            "refunded": refunded,
            "returns": list(s.rmas),
            "delivered_at": s.delivered_at,
            "return_window_ends": s.delivered_at + ctx.policy.returns.window if s.delivered_at else None,
        }
    )
