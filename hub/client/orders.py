"""The Python client backends use to place and steer orders, without knowing workflow internals."""

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.backorder import BackorderDecision
from domain.contract import (
    ORDER_WORKFLOW,
    RETURN_WORKFLOW,
    VIEW,
    OrderSignal,
    OrderUpdate,
    Refusal,
    ReturnSignal,
    ReturnUpdate,
    order_id_of_workflow,
    order_workflow_id,
    return_workflow_id,
    rma_id_of_workflow,
)
from domain.customer_timeline import CustomerTimeline, CustomerTimelineItem
from domain.events import StockEvent, UpstreamEvent
from domain.order import NewOrder, Order
from domain.order_view import (
    AddressChange,
    CancelRequest,
    OrderPolicy,
    OrderView,
    OrderWorkflowInput,
    RetryRequest,
)
from domain.return_eligibility import why_no_return
from domain.returns import (
    ApprovalDecision,
    CancelReturn,
    ResendLabel,
    ReturnReceipt,
    ReturnRequest,
    ReturnView,
    WarehouseReceipt,
)
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.client.timeline import newest_first, order_items, return_items
from workflows.search_attributes import (
    BACKORDERED_SKUS,
    CHANNEL,
    CUSTOMER_ID,
    FULFILLMENT_STATUS,
    ORDER_STATUS,
    ORDER_TOTAL,
    PAYMENT_STATUS,
)

FINGERPRINT_MEMO = "fingerprint"

V = TypeVar("V")


class OrderConflict(Exception):
    """The order id is taken by an order with different content."""


class NotFound(LookupError):
    """Nothing under that id; ``str()`` is the id."""

    title = "Not found"
    kind = "object"


class OrderNotFound(NotFound):
    """No order with that id."""

    title = "Order not found"
    kind = "order"


class ReturnNotFound(NotFound):
    """No RMA with that id."""

    title = "Return not found"
    kind = "RMA"


class ReturnConflict(Exception):
    """The RMA id is taken by another request (another order, or other lines)."""


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
class ReturnOpening:
    view: ReturnView
    created: bool
    """False when the same request had already opened this RMA: nothing new was started."""


@dataclass(frozen=True)
class Placement:
    handle: WorkflowHandle[Any, OrderView]
    created: bool
    """False when the same order had already been placed: nothing new was started."""
    acted: bool = False
    """Whether the run has acted on the order yet (a worker completed one of its tasks). Until it has, its view is
    the order as placed, and a query would wait for a worker (workers down, or busy with a burst of new orders)
    until Temporal gives up on it."""


class OrderClient:
    def __init__(self, client: Client, *, task_queue: str, policy: OrderPolicy | None = None) -> None:
        self._client = client
        self.task_queue = task_queue
        self._policy = policy or OrderPolicy()

    async def place(self, order: Order) -> Placement:
        """Start the order's workflow once. Placing the same order again returns the existing one; the same id
        with other content raises ``OrderConflict``. An order that breaks a rule for new orders (``NewOrder``)
        raises pydantic's ``ValidationError`` and starts nothing."""
        if not isinstance(order, NewOrder):
            NewOrder.model_validate(order.model_dump())
        workflow_id = order_workflow_id(order.order_id)
        try:
            handle = await self._client.start_workflow(
                ORDER_WORKFLOW,
                OrderWorkflowInput(order=order, policy=self._policy),
                id=workflow_id,
                result_type=OrderView,
                task_queue=self.task_queue,
                # One order id, one workflow, ever: a finished order is not re-run by a late duplicate.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # Set at start they are free; the workflow upserts the statuses only when they change.
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(ORDER_STATUS, OrderStatus.PENDING.value),
                        SearchAttributePair(PAYMENT_STATUS, PaymentStatus.NOT_PAID.value),
                        SearchAttributePair(FULFILLMENT_STATUS, FulfillmentStatus.OPEN.value),
                        SearchAttributePair(CUSTOMER_ID, order.customer.id),
                        SearchAttributePair(ORDER_TOTAL, order.total),
                        SearchAttributePair(CHANNEL, order.channel),
                    ]
                ),
                memo={FINGERPRINT_MEMO: order.fingerprint()},
                static_summary=f"Order {order.order_id}, {len(order.lines)} line(s)",
            )
            return Placement(handle=handle, created=True)
        except WorkflowAlreadyStartedError:
            handle = self.handle(order.order_id)
            existing = await (await handle.describe()).memo_value(FINGERPRINT_MEMO, default=None)
            if existing != order.fingerprint():
                raise OrderConflict(f"order {order.order_id} exists with different content") from None
            return Placement(handle=handle, created=False, acted=await _has_acted(handle))

    def handle(self, order_id: str) -> WorkflowHandle[Any, OrderView]:
        return self._client.get_workflow_handle(order_workflow_id(order_id), result_type=OrderView)

    async def view(self, order_id: str) -> OrderView:
        """The order's current view. A finished order is read from its result, so no worker is needed."""
        try:
            view: OrderView = await _current_view(self.handle(order_id), OrderView)
            return view
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
        clauses = [f'WorkflowType = "{ORDER_WORKFLOW}"']
        if customer_id:
            clauses.append(f'{CUSTOMER_ID.name} = "{customer_id}"')
        if status:
            clauses.append(f'{ORDER_STATUS.name} = "{status}"')
        found: list[OrderSummary] = []
        async for execution in self._client.list_workflows(" AND ".join(clauses), limit=limit):
            attributes = execution.typed_search_attributes
            found.append(
                OrderSummary(
                    order_id=order_id_of_workflow(execution.id) or execution.id,
                    customer_id=attributes.get(CUSTOMER_ID),
                    status=attributes.get(ORDER_STATUS),
                    started_at=execution.start_time,
                    closed_at=execution.close_time,
                )
            )
        return found

    async def customer_timeline(self, customer_id: str, *, limit: int = 200) -> CustomerTimeline:
        """Every order and RMA of a customer, with their messages and actions, newest first (story 5). Found by
        the ``CustomerId`` search attribute (visibility lags writes by a moment), read from each workflow."""
        query = f'{CUSTOMER_ID.name} = "{customer_id}"'
        orders: list[str] = []
        returns: list[str] = []
        items: list[CustomerTimelineItem] = []
        async for execution in self._client.list_workflows(query, limit=limit):
            order_id, rma_id = order_id_of_workflow(execution.id), rma_id_of_workflow(execution.id)
            if execution.workflow_type == ORDER_WORKFLOW and order_id is not None:
                order = await self.view(order_id)
                orders.append(order.order_id)
                items += order_items(order, execution.start_time)
            elif execution.workflow_type == RETURN_WORKFLOW and rma_id is not None:
                rma = await self.return_view(rma_id)
                returns.append(rma.rma_id)
                items += return_items(rma, execution.start_time)
        return CustomerTimeline(customer_id=customer_id, orders=orders, returns=returns, items=newest_first(items))

    # A decision sent again with the same ``idempotency_key`` (its reply was lost) gets the first answer: the key is
    # the Temporal Update id, which the server dedupes, so it is applied once. Without a key each call is new.

    async def cancel(
        self, order_id: str, request: CancelRequest | None = None, *, idempotency_key: str | None = None
    ) -> OrderView:
        return await self._decide(order_id, OrderUpdate.CANCEL, request or CancelRequest(), idempotency_key)

    async def change_shipping_address(
        self, order_id: str, change: AddressChange, *, idempotency_key: str | None = None
    ) -> OrderView:
        return await self._decide(order_id, OrderUpdate.CHANGE_SHIPPING_ADDRESS, change, idempotency_key)

    async def decide_backorder(
        self, order_id: str, decision: BackorderDecision, *, idempotency_key: str | None = None
    ) -> OrderView:
        """The customer's answer to a shortage; refused when nothing waits or it was already decided."""
        return await self._decide(order_id, OrderUpdate.DECIDE_BACKORDER, decision, idempotency_key)

    async def retry_actions(self, order_id: str, request: RetryRequest | None = None) -> OrderView:
        """An operator: the order tries again the steps that put it in ``requires_action``; refused when nothing
        waits for a person."""
        return await self._decide(order_id, OrderUpdate.RETRY_ACTIONS, request or RetryRequest())

    async def record_event(self, event: UpstreamEvent) -> bool:
        """Hand a verified upstream event to its order. False when the order has ended or does not exist."""
        return await self._signal(self.handle(event.order_id).signal(OrderSignal.RECORD_EVENT, event))

    async def _decide(
        self, order_id: str, update: OrderUpdate, request: Any, idempotency_key: str | None = None
    ) -> OrderView:
        update_id = decision_update_id(update, idempotency_key)
        view: OrderView | None = await _execute_update(self.handle(order_id), update, request, OrderView, update_id)
        if view is not None:
            return view
        ended = await self._ended_order(order_id)
        raise DecisionRefused(f"order has already ended ({ended.status.name.lower() if ended.status else 'closed'})")

    async def _ended_order(self, order_id: str) -> WorkflowExecutionDescription:
        """The server answers an Update with "not found" both for no such order and for an order whose workflow has
        ended: the description of the ended one, or ``OrderNotFound``."""
        try:
            return await self.handle(order_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_id) from None
            raise

    # -- after-sales: returns, exchanges, claims ------------------------------------------------------------

    def return_handle(self, rma_id: str) -> WorkflowHandle[Any, ReturnView]:
        return self._client.get_workflow_handle(return_workflow_id(rma_id), result_type=ReturnView)

    async def open_return(self, order_id: str, request: ReturnRequest) -> ReturnOpening:
        """Ask the order to accept an RMA: its workflow checks the return window and what was delivered and not
        already returned, then starts the RMA's own workflow. The same request again answers with the existing
        RMA (``created=False``); the same RMA id with another request raises ``ReturnConflict``; a refusal raises
        ``DecisionRefused`` with the order's reason; an unknown order ``OrderNotFound``."""
        try:
            existing: ReturnView | None = await self.return_view(request.rma_id)
        except ReturnNotFound:
            existing = None
        if existing is not None:
            if not _same_return(existing, order_id, request):
                raise ReturnConflict(f"RMA {request.rma_id} exists with a different request")
            return ReturnOpening(view=existing, created=False)
        view = await _execute_update(self.handle(order_id), OrderUpdate.OPEN_RETURN, request, ReturnView)
        if view is None:
            # As for decisions: "not found" is also the answer of an order whose workflow has ended: its final view
            # says why it takes no return (its window closed, or nothing was ever delivered).
            await self._ended_order(order_id)
            ended = await self.view(order_id)
            reason = why_no_return(
                delivered_at=ended.delivered_at,
                window_ends=ended.return_window_ends,
                now=datetime.now(UTC),
                ended=ended.status,
                failure_reason=ended.failure_reason,
            )
            raise DecisionRefused(reason or f"the order has already ended ({ended.status.value})")
        return ReturnOpening(view=view, created=True)

    async def return_view(self, rma_id: str) -> ReturnView:
        """Where an RMA stands. A finished one is read from its result, so no worker is needed."""
        try:
            view: ReturnView = await _current_view(self.return_handle(rma_id), ReturnView)
            return view
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise ReturnNotFound(rma_id) from None
            raise

    async def record_receipt(self, rma_id: str, receipt: ReturnReceipt) -> ReturnView:
        """The items are back (store associate, warehouse): answers once the RMA is settled."""
        return await self._decide_return(rma_id, ReturnUpdate.RECORD_RECEIPT, receipt)

    async def resend_return_label(self, rma_id: str, request: ResendLabel | None = None) -> ReturnView:
        return await self._decide_return(rma_id, ReturnUpdate.RESEND_LABEL, request or ResendLabel())

    async def decide_approval(self, rma_id: str, decision: ApprovalDecision) -> ReturnView:
        return await self._decide_return(rma_id, ReturnUpdate.DECIDE_APPROVAL, decision)

    async def cancel_return(self, rma_id: str, request: CancelReturn | None = None) -> ReturnView:
        return await self._decide_return(rma_id, ReturnUpdate.CANCEL, request or CancelReturn())

    async def record_return_event(self, rma_id: str, event: UpstreamEvent) -> bool:
        """Hand a carrier scan of an RMA's parcel to its workflow. False when the RMA has ended or does not exist."""
        return await self._signal(self.return_handle(rma_id).signal(ReturnSignal.RECORD_EVENT, event))

    async def record_warehouse_receipt(self, receipt: WarehouseReceipt) -> bool:
        """Hand the ERP's ``return.received`` to the RMA's workflow. False when it has ended or does not exist."""
        handle = self.return_handle(receipt.rma_id)
        return await self._signal(handle.signal(ReturnSignal.RECORD_WAREHOUSE_RECEIPT, receipt))

    async def wake_orders_waiting_for(self, event: StockEvent) -> int:
        """Hand an ERP stock event to every running order that waits for its SKU (search attribute
        ``BackorderedSkus``); how many were woken. The SKU is validated by the caller's parser."""
        query = (
            f"WorkflowType = '{ORDER_WORKFLOW}' AND ExecutionStatus = 'Running' "
            f"AND {BACKORDERED_SKUS.name} = '{_quoted(event.sku)}'"
        )
        woken = 0
        async for execution in self._client.list_workflows(query):
            handle = self._client.get_workflow_handle(execution.id)
            if await self._signal(handle.signal(OrderSignal.STOCK_CHANGED, event)):
                woken += 1
        return woken

    async def _signal(self, sending: Any) -> bool:
        try:
            await sending
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _decide_return(self, rma_id: str, update: ReturnUpdate, request: Any) -> ReturnView:
        view: ReturnView | None = await _execute_update(self.return_handle(rma_id), update, request, ReturnView)
        if view is not None:
            return view
        ended = await self.return_view(rma_id)  # ReturnNotFound when there is no such RMA
        # Worded as the workflow's own validator words it while it still runs.
        raise DecisionRefused(f"the {ended.kind.value} is already {ended.status.value}")


_REFUSALS = frozenset(Refusal)


async def _current_view(handle: WorkflowHandle[Any, Any], view_type: type[V]) -> V:
    """A workflow's view: its result once it has completed (no worker needed to answer), else its query."""
    description = await handle.describe()
    if description.status is WorkflowExecutionStatus.COMPLETED:
        result: V = await handle.result()
        return result
    view: V = await handle.query(VIEW, result_type=view_type)
    return view


async def _has_acted(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow's current run has acted: a worker completed one of its tasks, or it continues an earlier
    run (whose state it carries). Read from the start of its history, where the first completed task comes within a
    few events."""
    async for event in handle.fetch_history_events(page_size=16):
        started = event.workflow_execution_started_event_attributes
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED and started.continued_execution_run_id:
            return True
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return True
    return False


def decision_update_id(update: str, idempotency_key: str | None) -> str | None:
    """The Temporal Update id a decision's idempotency key stands for, named by the decision so one key reused for
    another decision is not taken for it."""
    return f"{update}:{idempotency_key}" if idempotency_key else None


async def _execute_update(
    handle: WorkflowHandle[Any, Any], update: str, request: Any, result_type: type[V], update_id: str | None = None
) -> V | None:
    """Run a decision as an Update: its answer, :class:`DecisionRefused` with the workflow's reason, or ``None``
    when the server cannot reach the workflow (none by that id, or it has ended: the caller says which). With an
    ``update_id`` the server answers a repeat with the first outcome, also once the workflow has ended."""
    reached, answer = await _answered(handle.execute_update(update, request, id=update_id, result_type=result_type))
    if reached or update_id is None:
        return answer
    # The workflow has ended: the first answer to this Update may be in its history.
    _, first = await _answered(handle.get_update_handle(update_id, result_type=result_type).result())
    return first


async def _answered(outcome: Awaitable[V]) -> tuple[bool, V | None]:
    """Await an Update's outcome: ``(True, answer)``; :class:`DecisionRefused` with the workflow's reason; or
    ``(False, None)`` when the server finds no such workflow or Update."""
    try:
        return True, await outcome
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type in _REFUSALS:
            raise DecisionRefused(cause.message) from None
        raise
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    return False, None


def _same_return(view: ReturnView, order_id: str, request: ReturnRequest) -> bool:
    """Whether an existing RMA is this request again (same order, kind, channel and lines)."""
    return (
        view.order_id == order_id
        and view.kind is request.kind
        and view.channel == request.channel
        and view.claim_reason == request.claim_reason
        and sorted((line.sku, line.quantity) for line in view.lines)
        == sorted((line.sku, line.quantity) for line in request.lines)
    )


def _quoted(value: str) -> str:
    """A value inside a single-quoted visibility query literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
