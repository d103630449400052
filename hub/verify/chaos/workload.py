"""What the chaos run asks of the hub: a mix of orders (happy, failing, returning), each with the ending it may
reach, the sandbox fault rules that make the failing ones fail, and the customer's side of each story.

Everything here is driven through the same clients a retailer's backend uses (``OrderClient``, the sandbox's
ERP as the warehouse), and every call survives the Temporal server being away for a while: the chaos run restarts
it mid-run, and a backend would simply retry.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

import httpx
from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.backorder import BackorderChoice
from domain.order import Order
from domain.order_view import FailureReason, OrderPolicy, OrderView
from domain.returns import ReturnPolicy, ReturnReceipt, ReturnRequest, ReturnStatus, ReturnView
from domain.status import OrderStatus
from hub.client import DecisionRefused, OrderClient

T = TypeVar("T")

SOLD_OUT_SKU = "CHAOS-SOLD-OUT"
"""Set to zero on hand at the start of the run: the out-of-stock orders ask for it."""

# Line prices of every order: PEN-01 x1 at 129.00 and INK-07 x2 at 4.50 (138.00 EUR).
PEN: dict[str, Any] = {"sku": "PEN-01", "quantity": 1, "unit_price": 12900}
INK: dict[str, Any] = {"sku": "INK-07", "quantity": 2, "unit_price": 450}


class Kind(StrEnum):
    """One story of the workload; the order id says which (``{run}-{kind}-{n}``), so fault rules find it."""

    HAPPY = "happy"
    DECLINED = "declined"
    """The card is declined at authorization."""
    OUT_OF_STOCK = "oos"
    """Nothing of it is in stock; the policy's default (drop what is missing) applies after a short wait."""
    PARTLY_OUT_OF_STOCK = "partoos"
    """One line is out of stock and dropped; the rest ships and is charged."""
    CUSTOMER_CANCEL = "cancel"
    """The customer cancels at once; if the order has already started capturing, it completes instead."""
    LABEL_REJECTED = "label"
    """The carrier refuses to sell the label (a business rejection): stock released, payment voided."""
    CAPTURE_FAILED = "capture"
    """The bank refuses the capture: label voided, stock released, payment voided."""
    RETURN_ALL = "retall"
    """Delivered, then everything comes back through the warehouse (ERP ``return.received`` webhook)."""
    RETURN_PART = "retpart"
    """Delivered, then the pen comes back to a store (``record_receipt``); the customer keeps the ink."""


RETURNING = frozenset({Kind.RETURN_ALL, Kind.RETURN_PART})

# How often each story occurs, out of 20 orders: about half happy, a third failing, a sixth returning.
MIX: dict[Kind, int] = {
    Kind.HAPPY: 7,
    Kind.DECLINED: 2,
    Kind.OUT_OF_STOCK: 1,
    Kind.PARTLY_OUT_OF_STOCK: 1,
    Kind.CUSTOMER_CANCEL: 2,
    Kind.LABEL_REJECTED: 1,
    Kind.CAPTURE_FAILED: 1,
    Kind.RETURN_ALL: 3,
    Kind.RETURN_PART: 2,
}


Ending = tuple[OrderStatus, FailureReason | None]
Expected = dict[Ending, tuple[tuple[str, ...], ...]]
"""The endings an order of a kind may reach, each with the message kinds it may have received (the order's, then
its RMA's, in the order they were sent)."""

_COMPLETED: Ending = (OrderStatus.COMPLETED, None)
_HAPPY_MAIL = ("order-confirmed", "order-shipped", "order-delivered")
_RETURN_MAIL = (*_HAPPY_MAIL, "return-label", "return-refunded")

EXPECTED: dict[Kind, Expected] = {
    Kind.HAPPY: {_COMPLETED: (_HAPPY_MAIL,)},
    Kind.DECLINED: {(OrderStatus.CANCELED, FailureReason.PAYMENT_DECLINED): (("order-canceled",),)},
    Kind.OUT_OF_STOCK: {(OrderStatus.CANCELED, FailureReason.OUT_OF_STOCK): (("order-backordered", "order-canceled"),)},
    Kind.PARTLY_OUT_OF_STOCK: {
        _COMPLETED: (("order-backordered", "backorder-decided", "order-shipped", "order-delivered"),)
    },
    # The cancellation may reach the order before or after it was confirmed; once capture has started it is
    # refused and the order ships as usual, which is a legitimate ending too.
    Kind.CUSTOMER_CANCEL: {
        (OrderStatus.CANCELED, FailureReason.CANCELED_BY_CUSTOMER): (
            ("order-canceled",),
            ("order-confirmed", "order-canceled"),
        ),
        _COMPLETED: (_HAPPY_MAIL,),
    },
    Kind.LABEL_REJECTED: {
        (OrderStatus.CANCELED, FailureReason.LABEL_REJECTED): (("order-confirmed", "order-canceled"),)
    },
    Kind.CAPTURE_FAILED: {
        (OrderStatus.CANCELED, FailureReason.CAPTURE_FAILED): (("order-confirmed", "order-canceled"),)
    },
    # Without a return (refused: the window closed under the chaos) the story is the happy one.
    Kind.RETURN_ALL: {_COMPLETED: (_RETURN_MAIL, _HAPPY_MAIL)},
    Kind.RETURN_PART: {_COMPLETED: (_RETURN_MAIL, _HAPPY_MAIL)},
}


def plan(run_id: str, count: int) -> list[tuple[Kind, Order]]:
    """``count`` orders in the mix's proportions, interleaved so every kind is in flight at every moment."""
    cycle = [kind for kind, weight in MIX.items() for _ in range(weight)]
    # A stride coprime with the cycle's length visits every slot once per cycle, spreading each kind out rather
    # than in blocks: a kill or the restart then hits every story.
    kinds = [cycle[(n * 7) % len(cycle)] for n in range(count)]
    return [(kind, make_order(f"{run_id}-{kind.value}-{n}", kind)) for n, kind in enumerate(kinds)]


def make_order(order_id: str, kind: Kind) -> Order:
    lines: list[dict[str, Any]] = [PEN, INK]
    if kind is Kind.OUT_OF_STOCK:
        lines = [{**PEN, "sku": SOLD_OUT_SKU}]
    elif kind is Kind.PARTLY_OUT_OF_STOCK:
        lines = [{**PEN, "sku": SOLD_OUT_SKU}, INK]
    return Order.model_validate(
        {
            "order_id": order_id,
            "customer": {"id": "C-CHAOS", "email": "chaos@example.com", "name": "Chaos Customer", "locale": "en-GB"},
            "currency": "EUR",
            "lines": lines,
            "shipping_address": {"line1": "1 Test Street", "city": "Paris", "postal_code": "75011", "country": "FR"},
            "payment_method": "pm_card_chargeDeclined" if kind is Kind.DECLINED else "pm_card_visa",
        }
    )


def fault_rules(
    run_id: str, *, error_rate: float, timeout_rate: float, faults_per_request: int
) -> list[dict[str, Any]]:
    """Transient failures and timeouts-after-success on every upstream and operation of this run's orders, plus
    the business rejections of the failing kinds (scoped to their order ids)."""
    return [
        {
            "upstream": "*",
            "operation": "*",
            "order_prefix": run_id,
            "error_rate": error_rate,
            "timeout_after_apply_rate": timeout_rate,
            # Uncapped, a 30 % chain has no worst case; two faulty attempts per request is plenty of chaos.
            "faults_per_request": faults_per_request,
        },
        {
            "upstream": "carrier",
            "operation": "shipment.buy",
            "order_prefix": f"{run_id}-{Kind.LABEL_REJECTED.value}-",
            "reject": {"code": "SHIPMENT.POSTAGE.FAILURE", "message": "address not serviceable"},
        },
        {
            "upstream": "payment",
            "operation": "capture",
            "order_prefix": f"{run_id}-{Kind.CAPTURE_FAILED.value}-",
            "reject": {"code": "charge_expired_for_capture", "message": "authorization expired"},
        },
    ]


def policies(*, return_window: timedelta) -> tuple[OrderPolicy, OrderPolicy]:
    """(no returns, returns): short timings so a run takes minutes. Orders that will not be returned end at
    delivery; the returning ones stay open ``return_window`` after it."""
    base = OrderPolicy(
        tracking_poll_interval=timedelta(seconds=1),
        delivery_deadline=timedelta(minutes=10),
        backorder_decision_timeout=timedelta(seconds=3),
        backorder_default=BackorderChoice.CANCEL_MISSING,
        returns=ReturnPolicy(window=timedelta(0)),
    )
    return base, base.model_copy(update={"returns": ReturnPolicy(window=return_window)})


# -- surviving the server's restart ---------------------------------------------------------------------------

# What a call answers while the Temporal server is away or just back: worth another try, not a verdict.
_RETRYABLE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        # "Unable to query workflow due to Workflow Task in failed state": a workflow task lost with a killed
        # worker (it times out, and the server backs off before retrying it); queries answer again after that.
        RPCStatusCode.FAILED_PRECONDITION,
    }
)


class Stalled(Exception):
    """A call kept failing transiently until the run's deadline."""


def _at_rest(description: WorkflowExecutionDescription) -> bool:
    """Ended, or waiting for the outside world: no activity and no workflow task pending."""
    pending = description.raw_description
    return description.status is not WorkflowExecutionStatus.RUNNING or not (
        pending.pending_activities or pending.HasField("pending_workflow_task")
    )


async def patiently(call: Callable[[], Awaitable[T]], deadline: float, failed_queries: list[str] | None = None) -> T:
    """``call()`` until it answers or fails for good, retrying while the server is unreachable.

    A query the workflow could not answer (``WorkflowQueryFailedError``: a worker that had to replay the history
    failed to) is tried again too, since another worker, or the result once the workflow has ended, may answer;
    each one is listed in ``failed_queries`` because it is worth a look (see the run's report)."""
    delay = 0.2
    while True:
        try:
            return await call()
        except RPCError as error:
            if error.status not in _RETRYABLE:
                raise
            failure: Exception = error
        except WorkflowQueryFailedError as error:
            if failed_queries is not None:
                failed_queries.append(str(error))
            failure = error
        except (WorkflowUpdateRPCTimeoutOrCancelledError, httpx.TransportError) as error:
            failure = error
        if time.monotonic() + delay > deadline:
            raise Stalled(f"{type(failure).__name__}: {failure}") from failure
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


# -- one order's story ----------------------------------------------------------------------------------------


@dataclass
class Story:
    """What happened to one order, as the client saw it."""

    kind: Kind
    order: Order
    view: OrderView | None = None
    returns: list[ReturnView] = field(default_factory=list)
    returned: dict[str, int] = field(default_factory=dict)
    """Units the customer sent back and the hub received, per SKU (what they no longer keep)."""
    notes: list[str] = field(default_factory=list)
    """Legitimate races worth counting (a cancellation that came too late, a return after the window)."""
    errors: list[str] = field(default_factory=list)
    """What went wrong on the client's side: each one is a violation."""
    failed_queries: list[str] = field(default_factory=list)
    """Queries a worker failed to answer (retried; reported, not violations by themselves)."""


@dataclass
class Customer:
    """The customer's and the retailer's side of the workload: places orders, cancels, returns."""

    orders: OrderClient
    returning: OrderClient
    """The same hub, with the policy that keeps a delivered order open for returns."""
    sandbox_url: str
    deadline: float
    """``time.monotonic()`` after which the run gives up on an order (it is reported as not terminal)."""
    http: httpx.AsyncClient

    def client(self, kind: Kind) -> OrderClient:
        return self.returning if kind in RETURNING else self.orders

    async def play(self, kind: Kind, order: Order) -> Story:
        story = Story(kind, order)
        client = self.client(kind)
        try:
            await patiently(lambda: client.place(order), self.deadline)
            if kind is Kind.CUSTOMER_CANCEL:
                await self._cancel(client, story)
            if kind in RETURNING:
                await self._return(client, story)
            story.view = await self._ending(client, story)
        except Exception as error:  # one order's failure is a verdict on it, not the end of the other orders' checks
            story.errors.append(f"{type(error).__name__}: {error}")
            # Still check the order's books: the error is the client's, the order may well have ended right.
            with contextlib.suppress(Exception):
                story.view = await self._ending(client, story)
        return story

    async def _cancel(self, client: OrderClient, story: Story) -> None:
        try:
            await patiently(lambda: client.cancel(story.order.order_id), self.deadline)
        except DecisionRefused as refused:
            # Either too late (capture has started) or our own earlier attempt, lost with the server, went through.
            story.notes.append(f"cancel refused: {refused}")

    async def _ending(self, client: OrderClient, story: Story) -> OrderView:
        """The order's final view, waiting on its result (a long poll, retried across the server's restart)."""
        order_id = story.order.order_id
        remaining = self.deadline - time.monotonic()
        try:
            return await asyncio.wait_for(patiently(lambda: client.result(order_id), self.deadline), remaining)
        except TimeoutError:
            # Not an error of the client: the order did not end in time. Its current view says where it stands.
            return await patiently(lambda: client.view(order_id), time.monotonic() + 30, story.failed_queries)

    async def _until(
        self, story: Story, read: Callable[[], Awaitable[T]], reached: Callable[[T], bool], what: str
    ) -> T:
        while True:
            value = await patiently(read, self.deadline, story.failed_queries)
            if reached(value):
                return value
            if time.monotonic() > self.deadline:
                raise Stalled(f"{what} not reached in time")
            await asyncio.sleep(1.0)

    async def _return(self, client: OrderClient, story: Story) -> None:
        order_id = story.order.order_id
        # A customer returns after the parcel arrived and they were told so, not in the same instant as the
        # carrier's scan: wait until the order rests in its return window. (A request racing the order's own steps
        # just after a worker was killed is what the SDK defect in tests/chaos/test_found_histories.py needs.)
        await self._until(
            story,
            lambda: client.view(order_id),
            lambda v: any(".order-delivered." in sent for sent in v.messages_sent) or v.status.is_terminal,
            "delivery",
        )
        await self._until(story, lambda: client.handle(order_id).describe(), _at_rest, "order at rest")
        view = await patiently(lambda: client.view(order_id), self.deadline, story.failed_queries)
        if view.delivered_at is None:
            story.notes.append(f"not delivered ({view.status.value}): nothing to return")
            return
        lines = [PEN, INK] if story.kind is Kind.RETURN_ALL else [PEN]
        request = ReturnRequest.model_validate(
            {
                "rma_id": f"R{order_id}",
                "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in lines],
                "channel": "web",
            }
        )
        try:
            await patiently(lambda: client.open_return(order_id, request), self.deadline)
        except DecisionRefused as refused:
            story.notes.append(f"return refused: {refused}")
            return
        rma_id = request.rma_id
        issued = await self._until(
            story,
            lambda: client.return_view(rma_id),
            lambda v: v.status is not ReturnStatus.REQUESTED and any(".return-label." in m for m in v.messages_sent),
            "return label",
        )
        if story.kind is Kind.RETURN_ALL:
            await self._warehouse_receives(order_id, rma_id, lines)
        else:
            # Brought to a store: the return label is never used, so its parcel never moves (the sandbox's carrier
            # would otherwise scan it on its own), and the store books it a while later, with the RMA at rest.
            if issued.return_shipment is not None:
                await self._freeze_tracking(issued.return_shipment.reference)
            await self._until(story, lambda: client.return_handle(rma_id).describe(), _at_rest, "RMA at rest")
            receipt = ReturnReceipt.model_validate({"received_via": "store", "location": "Store 12"})
            try:
                await patiently(lambda: client.record_receipt(rma_id, receipt), self.deadline)
            except DecisionRefused as refused:
                # Our first attempt reached the RMA before the server went away: the repeat is refused.
                story.notes.append(f"receipt repeat refused: {refused}")
        # Its status turns terminal a moment before its last message is sent: wait for the workflow to end.
        rma = await self._until(story, lambda: client.return_view(rma_id), lambda v: v.finished, "RMA ended")
        story.returns.append(rma)
        if rma.status is ReturnStatus.REFUNDED:
            story.returned = {str(line["sku"]): int(line["quantity"]) for line in lines}

    async def _freeze_tracking(self, reference: str) -> None:
        url = f"{self.sandbox_url}/_sandbox/carrier/{reference}/status"
        response = await patiently(lambda: self.http.post(url, json={"status": "pre_transit"}), self.deadline)
        response.raise_for_status()

    async def _warehouse_receives(self, order_id: str, rma_id: str, lines: list[dict[str, Any]]) -> None:
        """The warehouse books the parcel in its ERP, which pushes ``return.received`` to the hub's API: the
        receipt is named by the hub's own key, as the hub's ERP integration contract says."""
        receipt_id = f"{order_id}:rma.{rma_id}.receipt:1"
        body = {
            "order_id": order_id,
            "lines": [{"sku": line["sku"], "quantity": line["quantity"], "disposition": "restock"} for line in lines],
        }
        url = f"{self.sandbox_url}/erp/v1/returns/{receipt_id}"
        while True:
            response = await patiently(lambda: self.http.put(url, json=body), self.deadline)
            if response.status_code < 500 and response.status_code != 429:  # the fault rules hit us too
                response.raise_for_status()
                return
            if time.monotonic() > self.deadline:
                raise Stalled("the ERP never took the return receipt")
            await asyncio.sleep(0.5)
