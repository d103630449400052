"""The Python client backends use to place and steer orders, without knowing workflow internals."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.events import UpstreamEvent
from domain.keys import order_workflow_id
from domain.order import Order
from domain.order_view import AddressChange, CancelRequest, OrderPolicy, OrderView, OrderWorkflowInput
from domain.status import OrderStatus
from workflows.order import OrderWorkflow
from workflows.search_attributes import CUSTOMER_ID, ORDER_STATUS

FINGERPRINT_MEMO = "fingerprint"


class OrderConflict(Exception):
    """The order id is taken by an order with different content."""


class OrderNotFound(Exception):
    """No order with that id."""


class DecisionRefused(Exception):
    """The workflow refused a decision (cancel after shipping, address after the carrier's first scan); ``str()`` is
    the reason."""


@dataclass(frozen=True)
class OrderSummary:
    """An order as Temporal's visibility store knows it: enough to list, no PII."""

    order_id: str
    customer_id: str | None
    status: str | None
    started_at: datetime | None
    closed_at: datetime | None


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
        """The order's current view. A finished order is read from its result, so no worker is needed."""
        handle = self.handle(order_id)
        try:
            description = await handle.describe()
            if description.status is WorkflowExecutionStatus.COMPLETED:
                return await handle.result()
            return await handle.query(OrderWorkflow.view)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_id) from None
            raise

    async def result(self, order_id: str) -> OrderView:
        return await self.handle(order_id).result()

    async def list(
        self, *, customer_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[OrderSummary]:
        """Orders by customer and status, newest first, from Temporal's visibility store. The values are
        validated by the caller (ids and statuses have strict alphabets), so they are safe in the query."""
        clauses = ['WorkflowType = "OrderWorkflow"']
        if customer_id:
            clauses.append(f'{CUSTOMER_ID.name} = "{customer_id}"')
        if status:
            clauses.append(f'{ORDER_STATUS.name} = "{status}"')
        found: list[OrderSummary] = []
        async for execution in self._client.list_workflows(" AND ".join(clauses), limit=limit):
            attributes = execution.typed_search_attributes
            found.append(
                OrderSummary(
                    order_id=execution.id.removeprefix("order:"),
                    customer_id=attributes.get(CUSTOMER_ID),
                    status=attributes.get(ORDER_STATUS),
                    started_at=execution.start_time,
                    closed_at=execution.close_time,
                )
            )
        return found

    async def cancel(self, order_id: str, request: CancelRequest | None = None) -> OrderView:
        return await self._decide(order_id, OrderWorkflow.cancel, request or CancelRequest())

    async def change_shipping_address(self, order_id: str, change: AddressChange) -> OrderView:
        return await self._decide(order_id, OrderWorkflow.change_shipping_address, change)

    async def record_event(self, event: UpstreamEvent) -> bool:
        """Hand a verified upstream event to its order. False when the order has ended or does not exist."""
        try:
            await self.handle(event.order_id).signal(OrderWorkflow.record_event, event)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _decide(self, order_id: str, update: Any, request: Any) -> OrderView:
        try:
            view: OrderView = await self.handle(order_id).execute_update(update, request)
            return view
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type in _REFUSALS:
                raise DecisionRefused(cause.message) from None
            raise
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        # The server answers "not found" both for no such order and for an order whose workflow has ended.
        try:
            ended = await self.handle(order_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_id) from None
            raise
        raise DecisionRefused(f"order has already ended ({ended.status.name.lower() if ended.status else 'closed'})")


_REFUSALS = frozenset({"CancelRejected", "AddressChangeRejected"})
