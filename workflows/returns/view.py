"""What anyone may ask about an RMA (the ``view`` query, and the workflow's result)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.returns import ReturnView, initial_return_view
    from workflows.kit.views import view_of
    from workflows.returns.context import ReturnContext

SHOWN = (
    "status",
    "returned",
    "refunded",
    "charged",
    "action_reason",
    "return_shipment",
    "replacement_shipment",
    "timeline",
    "messages_sent",
    "messages",
)
"""State fields the view shows as they are."""


def return_view(ctx: ReturnContext) -> ReturnView:
    return view_of(initial_return_view(ctx.input), ctx.state, SHOWN)
