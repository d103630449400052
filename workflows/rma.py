"""How an order hands an RMA to its own workflow: the one way to start a ``ReturnWorkflow`` (the order's
``open_return`` does it in production, the tests' stand-in parent the same way)."""

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from domain.contract import RETURN_WORKFLOW, return_workflow_id
    from domain.returns import ReturnStatus, ReturnView, ReturnWorkflowInput
    from workflows.search_attributes import CUSTOMER_ID, ORDER_ID, RETURN_STATUS


def return_search_attributes(input: ReturnWorkflowInput) -> TypedSearchAttributes:
    """What the starter sets on the after-sales workflow (free at start): every RMA of an order, or a customer,
    is one visibility query away. Ids and a status only: no PII."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(ORDER_ID, input.order_id),
            SearchAttributePair(CUSTOMER_ID, input.customer.id),
            SearchAttributePair(RETURN_STATUS, ReturnStatus.REQUESTED.value),
        ]
    )


async def start_return_workflow(input: ReturnWorkflowInput) -> workflow.ChildWorkflowHandle[None, ReturnView]:
    """Start the RMA's workflow as a child of the calling (order) workflow. It outlives its parent (ABANDON): an
    order that continues as new or ends does not take its open returns with it. One RMA id, one workflow, ever
    (``WorkflowAlreadyStartedError`` otherwise)."""
    return await workflow.start_child_workflow(
        RETURN_WORKFLOW,
        input,
        id=return_workflow_id(input.request.rma_id),
        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=return_search_attributes(input),
        static_summary=f"{input.request.kind.value} {input.request.rma_id} of order {input.order_id}",
        result_type=ReturnView,
    )
