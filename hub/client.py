"""The Python client backends use to place and steer orders, without knowing workflow internals."""

from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from domain.keys import order_workflow_id
from domain.order import Order
from domain.order_view import CancelRequest, OrderPolicy, OrderView, OrderWorkflowInput
from domain.status import OrderStatus
from workflows.order import OrderWorkflow
from workflows.search_attributes import CUSTOMER_ID, ORDER_STATUS

FINGERPRINT_MEMO = "fingerprint"


class OrderConflict(Exception):
    """The order id is taken by an order with different content."""


class CancelRefused(Exception):
    """The workflow refused to cancel (too late, already ended); ``str()`` is the reason."""


@dataclass(frozen=True)
class Placement:
    handle: WorkflowHandle[OrderWorkflow, OrderView]
    created: bool
    """False when the same order had already been placed: nothing new was started."""


class OrderClient:
    def __init__(self, client: Client, *, task_queue: str, policy: OrderPolicy | None = None) -> None:
        self._client = client
        self.task_queue = task_queue
        self._policy = policy or OrderPolicy()

    async def place(self, order: Order) -> Placement:
        """Start the order's workflow once. Placing the same order again returns the existing one; the same id
        with other content raises ``OrderConflict``."""
        workflow_id = order_workflow_id(order.order_id)
        try:
            handle = await self._client.start_workflow(
                OrderWorkflow.run,
                OrderWorkflowInput(order=order, policy=self._policy),
                id=workflow_id,
                task_queue=self.task_queue,
                # One order id, one workflow, ever: a finished order is not re-run by a late duplicate.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # Set at start they are free; the workflow upserts OrderStatus only when it changes.
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(ORDER_STATUS, OrderStatus.PENDING.value),
                        SearchAttributePair(CUSTOMER_ID, order.customer.id),
                    ]
                ),
                memo={FINGERPRINT_MEMO: order.fingerprint()},
                static_summary=f"Order {order.order_id}, {len(order.lines)} line(s)",
            )
            return Placement(handle=handle, created=True)
        except WorkflowAlreadyStartedError:
            handle = self._client.get_workflow_handle_for(OrderWorkflow.run, workflow_id)
            existing = await (await handle.describe()).memo_value(FINGERPRINT_MEMO, default=None)
            if existing != order.fingerprint():
                raise OrderConflict(f"order {order.order_id} exists with different content") from None
            return Placement(handle=handle, created=False)

    def handle(self, order_id: str) -> WorkflowHandle[OrderWorkflow, OrderView]:
        return self._client.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order_id))

    async def view(self, order_id: str) -> OrderView:
        return await self.handle(order_id).query(OrderWorkflow.view)

    async def result(self, order_id: str) -> OrderView:
        return await self.handle(order_id).result()

    async def cancel(self, order_id: str, request: CancelRequest | None = None) -> OrderView:
        try:
            return await self.handle(order_id).execute_update(OrderWorkflow.cancel, request or CancelRequest())
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == "CancelRejected":
                raise CancelRefused(cause.message) from None
            raise
