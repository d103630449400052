"""``ReturnWorkflow``: one durable owner of an RMA — a return, an exchange or a claim (id ``return:{rma_id}``).

- **Return** (web, phone): buy the prepaid return label → send it to the customer → wait for the parcel (carrier
  scans, then the receipt) with one reminder and an expiry → inspection per line → report the receipt to the ERP
  → refund restocked lines in full and damaged ones at the policy's share → tell the customer.
- **Store return** (story 5): no label; the associate records the receipt with the inspection
  (``record_receipt``), then the same.
- **Exchange** (story 3): the return label, and the replacement reserved, labelled and committed (it ships) at
  no charge, then one message telling the whole story; then the item sent back is awaited exactly like a return
  and reported to the ERP. Never a refund: once the replacement ships, ``cancel`` is refused with the reason.
- **Claim** (damaged, missing, wrong item): no return shipment. Above ``claim_approval_limit`` an operator
  decides (``decide_approval``); then a refund, or a replacement (refunded instead if none can ship).

A carrier *delivered* scan of the return parcel only says that it reached the warehouse: the RMA keeps waiting
for the receipt (the ERP's ``return.received`` event or ``POST /returns/{rma}/received``), because only the
inspection says what is refunded. Expiry applies only while nothing is on its way: a parcel the carrier has
scanned is waited for. Business failures (out of stock, a label refused) undo what was done, newest first, and
end the RMA ``canceled`` with one message; nothing is left half-done or stuck. When the RMA ends, the order's
workflow is told (signal ``after_sales_closed``); if that workflow is gone, the timeline says so.

Final statuses: ``refunded`` (money went back), ``exchanged`` (a replacement shipped at no charge: an exchange,
or a claim resolved by replacement), ``closed`` (received, nothing to refund), ``declined``, ``canceled``,
``expired``.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReceiveReturn, ReserveStock
    from activities.notifications import NotificationActivities
    from activities.payment import PaymentActivities, RefundPayment
    from activities.shipping import BuyLabel, ShipmentRef, ShippingActivities
    from domain.contract import (
        RETURN_WORKFLOW,
        VIEW,
        OrderSignal,
        Refusal,
        ReturnSignal,
        ReturnUpdate,
        return_workflow_id,
    )
    from domain.currency import format_amount
    from domain.events import EventKind, UpstreamEvent
    from domain.inventory import ReturnedStock, StockRequest
    from domain.keys import after_sales_key
    from domain.order_view import FailureReason
    from domain.returns import (
        AfterSalesKind,
        ApprovalDecision,
        CancelReturn,
        Disposition,
        InspectedLine,
        ResendLabel,
        Resolution,
        ReturnedLine,
        ReturnOutcome,
        ReturnReceipt,
        ReturnStatus,
        ReturnView,
        ReturnWorkflowInput,
        WarehouseReceipt,
        initial_return_view,
    )
    from domain.shipments import ShipmentView
    from domain.shipping import Label
    from domain.status import FulfillmentStatus
    from domain.timeline import MessageRecord, Outcome, TimelineEntry
    from notifications.notice import CustomerNotice, NoticeKind, NoticeLine, TrackingLink, Undone
    from workflows import policies
    from workflows.failures import error_text, is_business_rejection
    from workflows.return_state import CarriedOver
    from workflows.saga import Compensations
    from workflows.search_attributes import CUSTOMER_ID, ORDER_ID, RETURN_STATUS

R = TypeVar("R")

# Which business rejection means what, by the step that raised it.
_REJECTION_REASON = {
    "buy_return_label": FailureReason.LABEL_REJECTED,
    "reserve_replacement": FailureReason.OUT_OF_STOCK,
    "buy_replacement_label": FailureReason.LABEL_REJECTED,
}
_FULFILLMENT_BY_EVENT = {
    EventKind.SHIPMENT_IN_TRANSIT: FulfillmentStatus.IN_TRANSIT,
    EventKind.SHIPMENT_OUT_FOR_DELIVERY: FulfillmentStatus.OUT_FOR_DELIVERY,
    EventKind.SHIPMENT_DELIVERED: FulfillmentStatus.DELIVERED,
    EventKind.SHIPMENT_EXCEPTION: FulfillmentStatus.EXCEPTION,
    EventKind.SHIPMENT_RETURNED_TO_SENDER: FulfillmentStatus.RETURNED_TO_SENDER,
}
# A return parcel in one of these is on its way to us (or arrived): it is waited for, never expired.
_MOVING = frozenset({FulfillmentStatus.IN_TRANSIT, FulfillmentStatus.OUT_FOR_DELIVERY, FulfillmentStatus.DELIVERED})


class RmaAborted(Exception):
    """Internal: a step failed for a business reason (or the customer withdrew): undo, then end ``canceled``."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class RmaEnded(Exception):
    """Internal: the RMA has reached its final status and the customer has been told; nothing more to do."""


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


@workflow.defn(name=RETURN_WORKFLOW)
class ReturnWorkflow:
    @workflow.init
    def __init__(self, input: ReturnWorkflowInput) -> None:
        self._input = input
        self._request = input.request
        self._policy = input.policy
        self._status = ReturnStatus.REQUESTED
        self._timeline: list[TimelineEntry] = []
        self._messages_sent: list[str] = []
        self._messages: list[MessageRecord] = []
        self._payments = list(input.payments)
        self._refunded = 0
        self._returned: list[ReturnedLine] = []
        self._return_shipment: ShipmentView | None = None
        self._replacement: ShipmentView | None = None
        self._replacement_shipped = False
        self._started = False  # labels bought, replacement shipped, first message sent: from here on, waiting
        self._no_return: str | None = None  # why the RMA can no longer be cancelled
        self._waiting_since: datetime | None = None
        self._reminded = False
        self._seen_events: set[str] = set()
        self._latest_scan_at: dict[str, datetime] = {}
        self._runs = 0
        self._undone: list[Undone] = []
        # Decisions handed in by updates and signals; a run continues as new only when none is pending.
        self._receipt: ReturnReceipt | None = None
        self._cancel: CancelReturn | None = None
        self._decision: ApprovalDecision | None = None
        self._settled = False  # the RMA has ended and the customer has been told
        if input.carried_over is not None:
            self._resume(CarriedOver.model_validate(input.carried_over))

    # -- the flows -------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ReturnWorkflowInput) -> ReturnView:
        saga = Compensations()
        try:
            try:
                if self._request.kind is AfterSalesKind.CLAIM:
                    await self._claim(saga)
                else:
                    await self._return(saga)
            except RmaAborted as abort:
                await self._abort(saga, abort)
        except RmaEnded:
            pass
        except asyncio.CancelledError:
            # An operator cancelled the workflow itself: undo what can still be undone, end, tell the order.
            if not self._status.is_terminal:
                if self._no_return is None and self._started:
                    await self._withdraw(FailureReason.CANCELED_BY_MERCHANT)
                elif self._no_return is None:
                    await self._abort(saga, RmaAborted(FailureReason.CANCELED_BY_MERCHANT))
                else:
                    self._record("after_sales", "failed", f"stopped by an operator; {self._no_return}")
                    self._update(ReturnStatus.CLOSED)
            self._settled = True
            await self._tell_order()
            raise
        self._settled = True  # the customer has been told: updates waiting for the outcome answer now
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._tell_order()
        return self.view().model_copy(update={"finished": True})

    async def _return(self, saga: Compensations) -> None:
        """A return or an exchange: everything that comes back is awaited, inspected and reported."""
        request = self._request
        if not self._started:
            if not request.received_in_store:
                saga.add("return_label", self._void_return_label)
                await self._buy_return_label()
                self._stop_if_cancel_requested()
            if request.wants_replacement:
                await self._ship_replacement(saga)
            saga.close()
            self._started = True
            self._waiting_since = workflow.now()
            if request.wants_replacement:
                await self._notify(NoticeKind.EXCHANGE_CONFIRMED)
            elif self._return_shipment is not None:
                await self._notify(NoticeKind.RETURN_LABEL)
            if self._return_shipment is not None:
                self._update(ReturnStatus.LABEL_ISSUED)
        await self._await_receipt()
        await self._settle_receipt()

    async def _claim(self, saga: Compensations) -> None:
        """A claim: no return shipment; an operator's approval above the limit; then refund or replace."""
        value = self._input.value
        if not self._started:
            self._started = True
            limit = self._policy.claim_approval_limit
            if value > limit:
                self._record("approval", "info", f"{self._money(value)} is above the {self._money(limit)} limit")
                self._update(ReturnStatus.AWAITING_APPROVAL)
                await self._notify(NoticeKind.CLAIM_RECEIVED)
        if self._status is ReturnStatus.AWAITING_APPROVAL:
            decision = await self._await_decision()
            if not decision.approved:
                self._update(ReturnStatus.DECLINED)
                await self._notify(NoticeKind.CLAIM_DECLINED)
                return
        self._stop_if_cancel_requested()
        self._no_return = "the claim is being settled"
        if self._request.resolution is Resolution.REPLACE:
            try:
                await self._ship_replacement(saga)
            except RmaAborted as abort:
                # The customer is owed the goods or their price: no replacement can ship, so refund instead.
                await saga.unwind(self._undo_failed)
                self._record("replacement", "failed", f"{abort.reason.value}: refunding the claim instead")
                await self._refund(value)
                await self._settled_by_refund(NoticeKind.CLAIM_APPROVED, value, reason=abort.reason)
                return
            saga.close()
            self._update(ReturnStatus.EXCHANGED)
            await self._notify(NoticeKind.REPLACEMENT_SHIPPED)
            return
        await self._refund(value)
        await self._settled_by_refund(NoticeKind.CLAIM_APPROVED, value)

    async def _abort(self, saga: Compensations, abort: RmaAborted) -> None:
        self._record("after_sales", "failed", abort.reason.value)
        await saga.unwind(self._undo_failed)
        self._update(ReturnStatus.CANCELED)
        await self._notify(NoticeKind.RETURN_CANCELED, reason=abort.reason)

    def _undo_failed(self, name: str, error: BaseException) -> None:
        self._record(f"undo_{name}", "failed", str(error))

    # -- forward steps ---------------------------------------------------------------------------------------

    async def _buy_return_label(self) -> None:
        """A return label names the customer's address; the carrier swaps the addresses for a return."""
        label = await self._step(
            "buy_return_label",
            ShippingActivities.buy_label,
            BuyLabel(
                order_id=self._input.order_id,
                reference=self._key("return-label"),
                address=self._input.address,
                name=self._input.customer.name,
                is_return=True,
            ),
            _describe_label,
        )
        self._return_shipment = _shipment(label, self._input)

    async def _ship_replacement(self, saga: Compensations) -> None:
        """Reserve, label and commit the replacement; the commit is the point of no return (it ships)."""
        order_id = self._input.order_id
        hold_id = self._key("replacement-hold")
        saga.add("replacement_stock", self._release_replacement)
        hold = await self._step(
            "reserve_replacement",
            InventoryActivities.reserve,
            ReserveStock(
                order_id=order_id,
                hold_id=hold_id,
                lines=[StockRequest(sku=line.sku, quantity=line.quantity) for line in self._input.lines],
            ),
            lambda h: f"held {h.units_held} units",
        )
        if hold.short_lines:
            short = ", ".join(f"{line.sku} (missing {line.short})" for line in hold.short_lines)
            self._record("reserve_replacement", "failed", f"short: {short}")
            raise RmaAborted(FailureReason.OUT_OF_STOCK)
        self._stop_if_cancel_requested()
        saga.add("replacement_label", self._void_replacement_label)
        label = await self._step(
            "buy_replacement_label",
            ShippingActivities.buy_label,
            BuyLabel(
                order_id=order_id,
                reference=self._key("replacement-label"),
                address=self._input.address,
                name=self._input.customer.name,
            ),
            _describe_label,
        )
        self._replacement = _shipment(label, self._input)
        self._stop_if_cancel_requested()
        self._no_return = "the replacement has shipped"
        await self._step("commit_replacement", InventoryActivities.commit, HoldRef(hold_id=hold_id))
        self._replacement_shipped = True

    async def _await_receipt(self) -> None:
        """Wait for the receipt: remind once, expire when nothing is on its way, honour a cancellation."""
        while self._receipt is None:
            if self._cancel is not None:
                await self._withdraw()
                raise RmaEnded
            await self._continue_as_new_if_long()
            if self._receipt is not None:
                break
            if self._cancel is not None:
                continue
            now = workflow.now()
            assert self._waiting_since is not None
            moving = self._parcel_moving()
            expires_at = self._waiting_since + self._policy.expires_after
            if not moving and now >= expires_at:
                await self._expire()
            remind_at = self._waiting_since + self._policy.reminder_after
            remind = self._return_shipment is not None and not self._reminded and not moving and remind_at < expires_at
            if remind and now >= remind_at:
                self._reminded = True
                await self._notify(NoticeKind.RETURN_REMINDER)
                continue
            wake = None if moving else (remind_at if remind else expires_at)
            with contextlib.suppress(TimeoutError):  # a reminder or the expiry is due: the loop sees which
                await workflow.wait_condition(
                    lambda: self._receipt is not None or self._cancel is not None or self._history_long(),
                    timeout=None if wake is None else wake - now,
                )

    async def _await_decision(self) -> ApprovalDecision:
        while self._decision is None:
            if self._cancel is not None:
                await self._withdraw()
                raise RmaEnded
            await self._continue_as_new_if_long()
            await workflow.wait_condition(
                lambda: self._decision is not None or self._cancel is not None or self._history_long()
            )
        return self._decision

    async def _settle_receipt(self) -> None:
        """Inspection per line, the ERP told, then the refund (a return) or nothing more (an exchange)."""
        receipt = self._receipt
        assert receipt is not None
        self._no_return = "the items have been received"
        inspected = receipt.lines
        if inspected is None:
            inspected = [InspectedLine(sku=line.sku, quantity=line.quantity) for line in self._input.lines]
        self._returned = [
            ReturnedLine(sku=line.sku, quantity=line.quantity, disposition=line.disposition) for line in inspected
        ]
        self._update(ReturnStatus.RECEIVED)
        self._record(
            "inspection",
            "succeeded",
            ", ".join(f"{r.quantity} x {r.sku} {r.disposition.value}" for r in self._returned),
        )
        await self._report_receipt()
        if self._request.kind is AfterSalesKind.EXCHANGE:
            self._update(ReturnStatus.EXCHANGED)
            await self._notify(NoticeKind.RETURN_RECEIVED)
            return
        due = self._refund_due()
        await self._refund(due)
        await self._settled_by_refund(NoticeKind.RETURN_REFUNDED, due)

    async def _report_receipt(self) -> None:
        """The ERP restocks what is resaleable. Idempotent by our receipt id, so the warehouse's own report (its
        ``return.received`` event) and ours agree. A failure is left to a person: the customer does not wait on
        our ERP for their money."""
        try:
            await workflow.execute_activity_method(
                InventoryActivities.receive_return,
                ReceiveReturn(
                    order_id=self._input.order_id,
                    receipt_id=self._key("receipt"),
                    lines=[
                        ReturnedStock(sku=r.sku, quantity=r.quantity, disposition=r.disposition) for r in self._returned
                    ],
                ),
                **policies.STEP,
            )
        except ActivityError as error:
            self._record("report_receipt", "failed", error_text(error))
            return
        restocked = sum(r.quantity for r in self._returned if r.disposition is Disposition.RESTOCK)
        self._record("report_receipt", "succeeded", f"{restocked} units back in stock")

    def _refund_due(self) -> int:
        """Restocked lines at the price paid; damaged ones at the policy's share (rounded down, per line)."""
        prices = {line.sku: line.unit_price for line in self._input.lines}
        due = 0
        for line in self._returned:
            amount = prices[line.sku] * line.quantity
            due += (
                amount
                if line.disposition is Disposition.RESTOCK
                else amount * self._policy.damaged_refund_percent // 100
            )
        return due

    async def _refund(self, amount: int) -> None:
        """Refund ``amount`` from the order's captured payments, oldest first, never more than each still holds.
        Money owed back keeps being retried for as long as a compensation (a day)."""
        remaining = amount
        for k, payment in enumerate(self._payments, start=1):
            take = min(remaining, payment.refundable)
            if take <= 0:
                continue
            try:
                updated = await workflow.execute_activity_method(
                    PaymentActivities.refund,
                    RefundPayment(payment=payment, amount=take, idempotency_key=self._key("refund", k)),
                    **policies.COMPENSATION,
                )
            except ActivityError as error:
                self._record("refund", "failed", f"payment {k}: {error_text(error)}")
                continue
            self._payments[k - 1] = updated
            self._refunded += take
            remaining -= take
            self._record("refund", "succeeded", f"{self._money(take)} to payment {k}")
        if remaining > 0:
            self._record("refund", "failed", f"{self._money(remaining)} could not be refunded: needs a person")

    async def _settled_by_refund(self, kind: NoticeKind, due: int, reason: FailureReason | None = None) -> None:
        if self._refunded > 0:
            self._update(ReturnStatus.REFUNDED)
            await self._notify(kind, reason=reason)
        elif due == 0:
            self._update(ReturnStatus.CLOSED)  # received, inspected, nothing owed (or a claim on a free item)
            await self._notify(kind if self._request.kind is AfterSalesKind.CLAIM else NoticeKind.RETURN_RECEIVED)
        else:
            self._update(ReturnStatus.CLOSED)  # the refund failed: on the timeline for a person

    # -- endings while waiting -------------------------------------------------------------------------------

    async def _withdraw(self, reason: FailureReason = FailureReason.CANCELED_BY_CUSTOMER) -> None:
        """The RMA is withdrawn while waiting, before anything came back: void the unused label, end, say so."""
        await self._void_quietly()
        self._update(ReturnStatus.CANCELED)
        await self._notify(NoticeKind.RETURN_CANCELED, reason=reason)

    async def _expire(self) -> NoReturn:
        self._record("expired", "info", "nothing was received in time")
        await self._void_quietly()
        self._update(ReturnStatus.EXPIRED)
        await self._notify(NoticeKind.RETURN_EXPIRED)
        raise RmaEnded

    async def _void_quietly(self) -> None:
        if self._return_shipment is None:
            return
        try:
            await self._void_return_label()
        except ActivityError as error:
            self._record("void_return_label", "failed", error_text(error))

    # -- compensations: each a no-op when its step never happened --------------------------------------------

    async def _void_return_label(self) -> None:
        void = await workflow.execute_activity_method(
            ShippingActivities.void_label, ShipmentRef(reference=self._key("return-label")), **policies.COMPENSATION
        )
        if void.voided:
            self._undone.append(Undone.LABEL_VOIDED)
            self._record("return_label_voided", "compensated", void.reference)
        if self._return_shipment is not None:
            self._return_shipment = self._return_shipment.model_copy(update={"status": FulfillmentStatus.CANCELED})

    async def _void_replacement_label(self) -> None:
        void = await workflow.execute_activity_method(
            ShippingActivities.void_label,
            ShipmentRef(reference=self._key("replacement-label")),
            **policies.COMPENSATION,
        )
        if void.voided:
            self._record("replacement_label_voided", "compensated", void.reference)
        if self._replacement is not None:
            self._replacement = self._replacement.model_copy(update={"status": FulfillmentStatus.CANCELED})

    async def _release_replacement(self) -> None:
        hold = await workflow.execute_activity_method(
            InventoryActivities.release, HoldRef(hold_id=self._key("replacement-hold")), **policies.COMPENSATION
        )
        if hold is not None:
            self._record("replacement_stock_released", "compensated", f"{hold.units_held} units")

    # -- continue-as-new -------------------------------------------------------------------------------------

    def _history_long(self) -> bool:
        info = workflow.info()
        limit = self._policy.history_event_limit
        return info.is_continue_as_new_suggested() or bool(limit and info.get_current_history_length() > limit)

    def _pending(self) -> bool:
        return self._receipt is not None or self._cancel is not None or self._decision is not None

    async def _continue_as_new_if_long(self) -> None:
        """While waiting, past the history limit: carry the state into a fresh run. Only with every handler
        finished and no decision pending, so no update or signal is lost; a pending one is handled first."""
        if not self._history_long():
            return
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._pending())
        if self._pending():
            return
        self._runs += 1
        length = workflow.info().get_current_history_length()
        self._record("continue_as_new", "info", f"run {self._runs + 1} continues after {length} events")
        workflow.continue_as_new(
            self._input.model_copy(update={"carried_over": self._carry_over().model_dump(mode="json")}),
            search_attributes=workflow.info().typed_search_attributes,
        )

    def _carry_over(self) -> CarriedOver:
        return CarriedOver(
            status=self._status,
            timeline=self._timeline,
            messages_sent=self._messages_sent,
            messages=self._messages,
            payments=self._payments,
            refunded=self._refunded,
            returned=self._returned,
            return_shipment=self._return_shipment,
            replacement_shipment=self._replacement,
            replacement_shipped=self._replacement_shipped,
            started=self._started,
            no_return=self._no_return,
            waiting_since=self._waiting_since,
            reminded=self._reminded,
            seen_events=sorted(self._seen_events),
            latest_scan_at=self._latest_scan_at,
            runs=self._runs,
        )

    def _resume(self, carried: CarriedOver) -> None:
        self._status = carried.status
        self._timeline = list(carried.timeline)
        self._messages_sent = list(carried.messages_sent)
        self._messages = list(carried.messages)
        self._payments = list(carried.payments)
        self._refunded = carried.refunded
        self._returned = list(carried.returned)
        self._return_shipment = carried.return_shipment
        self._replacement = carried.replacement_shipment
        self._replacement_shipped = carried.replacement_shipped
        self._started = carried.started
        self._no_return = carried.no_return
        self._waiting_since = carried.waiting_since
        self._reminded = carried.reminded
        self._seen_events = set(carried.seen_events)
        self._latest_scan_at = dict(carried.latest_scan_at)
        self._runs = carried.runs

    # -- what upstreams tell us ------------------------------------------------------------------------------

    @workflow.signal(name=ReturnSignal.RECORD_EVENT)
    def record_event(self, event: UpstreamEvent) -> None:
        """A carrier scan of the return parcel or the replacement (webhook). At least once and unordered: a
        repeated event id is dropped, a scan older than the newest one applied to that parcel is stale."""
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        status = _FULFILLMENT_BY_EVENT.get(event.kind)
        reference = event.shipment_reference
        if status is None or reference is None:
            self._record("event", "info", f"{event.source}: {event.kind.value}")
            return
        parcel = "return" if reference == self._key("return-label") else None
        parcel = "replacement" if reference == self._key("replacement-label") else parcel
        shipment = self._return_shipment if parcel == "return" else self._replacement if parcel else None
        if shipment is None:
            self._record("tracking", "skipped", f"{status.value} for unknown parcel {reference}")
            return
        if shipment.status is FulfillmentStatus.CANCELED:
            self._record("tracking", "skipped", f"{status.value} for voided label {reference}")
            return
        latest = self._latest_scan_at.get(reference)
        if latest is not None and event.occurred_at < latest:
            self._record("tracking", "skipped", f"stale {status.value} of the {parcel} parcel")
            return
        self._latest_scan_at[reference] = event.occurred_at
        shipment = shipment.model_copy(update={"status": status})
        outcome: Outcome = "failed" if status is FulfillmentStatus.EXCEPTION else "succeeded"
        self._record("tracking", outcome, f"{parcel} parcel {status.value} ({event.raw_status or event.kind.value})")
        if parcel == "replacement":
            self._replacement = shipment
            return
        self._return_shipment = shipment
        if status in _MOVING and self._status is ReturnStatus.LABEL_ISSUED:
            self._no_return = self._no_return or "the return parcel is already with the carrier"
            self._update(ReturnStatus.IN_TRANSIT)
        if status is FulfillmentStatus.DELIVERED:
            self._record("return_parcel", "info", "delivered to the warehouse; awaiting the inspection")

    @workflow.signal(name=ReturnSignal.RECORD_WAREHOUSE_RECEIPT)
    def record_warehouse_receipt(self, receipt: WarehouseReceipt) -> None:
        """The ERP's ``return.received`` event: the warehouse received and inspected the parcel. Lines of other
        SKUs, or more than requested, are left out (and said so); a receipt we already have is a repeat."""
        if receipt.event_id in self._seen_events:
            return
        self._seen_events.add(receipt.event_id)
        if self._receipt is not None or self._status.is_terminal or self._cancel is not None:
            self._record("warehouse_receipt", "skipped", f"already {self._status.value}")
            return
        if not self._request.needs_return_shipment:
            self._record("warehouse_receipt", "skipped", "a claim has no return shipment")
            return
        requested = {line.sku: line.quantity for line in self._input.lines}
        lines = [line for line in receipt.lines if line.quantity <= requested.get(line.sku, 0)]
        if len(lines) != len(receipt.lines):
            self._record("warehouse_receipt", "failed", "lines not part of this RMA were left out")
        if not lines:
            return
        self._receipt = ReturnReceipt(location="warehouse", lines=lines)
        self._record("receipt", "info", "reported by the warehouse")

    # -- decisions: customers, associates, operators ---------------------------------------------------------

    @workflow.update(name=ReturnUpdate.RECORD_RECEIPT)
    async def record_receipt(self, receipt: ReturnReceipt) -> ReturnView:
        """The items are back (a store associate, a warehouse person), with the inspection per line. Answers once
        the RMA is settled (refunded, exchanged or closed)."""
        self._receipt = receipt
        via = receipt.received_via or "api"
        self._record("receipt", "info", f"recorded via {via}" + (f" at {receipt.location}" if receipt.location else ""))
        await workflow.wait_condition(lambda: self._settled)
        return self.view()

    @record_receipt.validator
    def _receipt_allowed(self, receipt: ReturnReceipt) -> None:
        if not self._request.needs_return_shipment:
            raise _refused("a claim has no return shipment to receive")
        self._refuse_if_over()
        if self._receipt is not None:
            raise _refused("the items have already been received")
        if self._cancel is not None:
            raise _refused("the return is being cancelled")
        if receipt.lines is not None:
            requested = {line.sku: line.quantity for line in self._input.lines}
            seen: set[str] = set()
            for line in receipt.lines:
                if line.sku not in requested:
                    raise _refused(f"{line.sku} is not part of this return")
                if line.quantity > requested[line.sku]:
                    raise _refused(f"more {line.sku} received than requested ({requested[line.sku]})")
                if line.sku in seen:
                    raise _refused(f"{line.sku} appears twice")
                seen.add(line.sku)
            if not seen:
                raise _refused("a receipt names at least one line (or none, for everything)")

    @workflow.update(name=ReturnUpdate.RESEND_LABEL)
    async def resend_label(self, request: ResendLabel) -> ReturnView:
        """Send the return label again (story 3: it must really reach the customer); each delivery is numbered
        in ``messages_sent``."""
        self._record("resend_label", "info", f"requested via {request.requested_via}")
        if not await self._notify(NoticeKind.RETURN_LABEL):
            raise _refused("the label could not be delivered just now; try again later")
        return self.view()

    @resend_label.validator
    def _resend_allowed(self, request: ResendLabel) -> None:
        self._refuse_if_over()
        if not self._request.needs_return_shipment or self._request.received_in_store:
            raise _refused("this RMA has no return label")
        if not self._started or self._return_shipment is None:
            raise _refused("the return label is not ready yet")
        if self._receipt is not None:
            raise _refused("the items have already been received")
        if self._cancel is not None:
            raise _refused("the return is being cancelled")

    @workflow.update(name=ReturnUpdate.DECIDE_APPROVAL)
    async def decide_approval(self, decision: ApprovalDecision) -> ReturnView:
        """An operator approves or declines a claim above the limit. Answers once the claim is settled."""
        self._decision = decision
        verdict = "approved" if decision.approved else "declined"
        self._record(
            "approval", "info", f"{verdict} by {decision.operator}" + (f": {decision.note}" if decision.note else "")
        )
        await workflow.wait_condition(lambda: self._settled)
        return self.view()

    @decide_approval.validator
    def _decision_allowed(self, decision: ApprovalDecision) -> None:
        self._refuse_if_over()
        if self._decision is not None:
            raise _refused("a decision has already been given")
        if self._status is not ReturnStatus.AWAITING_APPROVAL:
            raise _refused(f"nothing awaits approval (the {self._request.kind.value} is {self._status.value})")
        if self._cancel is not None:
            raise _refused("the claim is being cancelled")

    @workflow.update(name=ReturnUpdate.CANCEL)
    async def cancel(self, request: CancelReturn) -> ReturnView:
        """Withdraw the RMA while nothing has shipped, nothing is on its way back and no money has moved: what
        was bought (a label, a reserved replacement) is undone. Refused with the reason afterwards."""
        self._cancel = request
        self._record("cancel_requested", "info", f"via {request.requested_via}: {request.reason}")
        await workflow.wait_condition(lambda: self._settled)
        return self.view()

    @cancel.validator
    def _cancel_allowed(self, request: CancelReturn) -> None:
        self._refuse_if_over()
        if self._no_return is not None:
            raise _refused(f"too late to cancel: {self._no_return}")
        if self._receipt is not None:
            raise _refused("too late to cancel: the items have been received")
        if self._decision is not None:
            raise _refused("too late to cancel: the claim is being settled")
        if self._cancel is not None:
            raise _refused("cancellation already requested")

    def _refuse_if_over(self) -> None:
        if self._status.is_terminal:
            raise _refused(f"the {self._request.kind.value} is already {self._status.value}")

    def _stop_if_cancel_requested(self) -> None:
        if self._cancel is not None:
            raise RmaAborted(FailureReason.CANCELED_BY_CUSTOMER)

    @workflow.query(name=VIEW)
    def view(self) -> ReturnView:
        return initial_return_view(self._input).model_copy(
            update={
                "status": self._status,
                "returned": self._returned,
                "refunded": self._refunded,
                "return_shipment": self._return_shipment,
                "replacement_shipment": self._replacement,
                "timeline": self._timeline,
                "messages_sent": self._messages_sent,
                "messages": self._messages,
            }
        )

    # -- helpers ---------------------------------------------------------------------------------------------

    async def _tell_order(self) -> None:
        """The order counts what came back and what was refunded; a gone order (ended, or deleted) is noted."""
        outcome = ReturnOutcome(
            rma_id=self._request.rma_id,
            kind=self._request.kind,
            status=self._status,
            returned=self._returned,
            refunded=self._refunded,
            replacement_shipped=self._replacement_shipped,
        )
        order = workflow.get_external_workflow_handle(self._input.order_workflow_id)
        try:
            await order.signal(OrderSignal.AFTER_SALES_CLOSED, outcome)
        except (ApplicationError, FailureError) as error:
            self._record("tell_order", "failed", f"{self._input.order_workflow_id} not told: {error}")
            return
        self._record("tell_order", "succeeded", self._status.value)

    async def _step(
        self,
        name: str,
        activity: Callable[[Any, Any], Awaitable[R]],
        arg: Any,
        describe: Callable[[R], str] | None = None,
    ) -> R:
        """Run one forward step; a failure that survived its retries aborts the RMA with a reason."""
        try:
            result: R = await workflow.execute_activity_method(activity, arg, **policies.STEP)
        except ActivityError as error:
            self._record(name, "failed", error_text(error))
            business = is_business_rejection(error)
            raise RmaAborted(
                _REJECTION_REASON.get(name, FailureReason.SYSTEM_ERROR) if business else FailureReason.SYSTEM_ERROR
            ) from error
        self._record(name, "succeeded", describe(result) if describe else None)
        return result

    async def _notify(self, kind: NoticeKind, reason: FailureReason | None = None) -> bool:
        """Tell the customer; True once delivered (and listed in ``messages_sent``)."""
        order_id, rma_id = self._input.order_id, self._request.rma_id
        prefix = f"{order_id}.{kind.value}.{rma_id}."
        seq = 1 + sum(sent.startswith(prefix) for sent in self._messages_sent)
        label = self._return_shipment
        replacement = self._replacement
        notice = CustomerNotice(
            order_id=order_id,
            kind=kind,
            seq=seq,
            customer=self._input.customer,
            currency=self._input.currency,
            total=self._input.value,
            tracking=[
                TrackingLink(
                    carrier=replacement.carrier or "",
                    tracking_code=replacement.tracking_code,
                    url=replacement.tracking_url,
                )
            ]
            if replacement is not None and replacement.tracking_code and self._replacement_shipped
            else [],
            reason=reason,
            undone=self._undone,
            amount_returned=self._refunded,
            rma_id=rma_id,
            after_sales_kind=self._request.kind,
            label_url=label.label_url if label is not None and label.status is not FulfillmentStatus.CANCELED else None,
            lines=[NoticeLine(sku=r.sku, quantity=r.quantity, disposition=r.disposition) for r in self._returned]
            or [NoticeLine(sku=line.sku, quantity=line.quantity) for line in self._input.lines],
        )
        step = f"notify_{kind.value}"
        try:
            delivery = await workflow.execute_activity_method(NotificationActivities.notify, notice, **policies.NOTIFY)
        except ActivityError as error:
            self._record(step, "failed", error_text(error))
            return False
        self._messages_sent.append(notice.notification_id)
        self._messages.append(
            MessageRecord(
                notification_id=notice.notification_id,
                kind=kind.value,
                channel=delivery.sent_on,
                subject=delivery.subject,
                at=workflow.now(),
            )
        )
        self._record(step, "succeeded")
        return True

    def _parcel_moving(self) -> bool:
        shipment = self._return_shipment
        return shipment is not None and shipment.status in _MOVING

    def _key(self, operation: str, n: int = 1) -> str:
        return after_sales_key(self._input.order_id, self._request.rma_id, operation, n)

    def _money(self, amount: int) -> str:
        return format_amount(amount, self._input.currency)

    def _update(self, status: ReturnStatus) -> None:
        """The one way the status changes: keeps the search attribute and the timeline in step."""
        if status is self._status:
            return
        self._status = status
        # Upserted only on a real change: each upsert is a billed action and a history event.
        workflow.upsert_search_attributes([RETURN_STATUS.value_set(status.value)])
        self._record("return_status", "info", status.value)

    def _record(self, step: str, outcome: Outcome, detail: str | None = None) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))


async def start_return_workflow(input: ReturnWorkflowInput) -> workflow.ChildWorkflowHandle[ReturnWorkflow, ReturnView]:
    """Start the RMA's workflow as a child of the calling (order) workflow. It outlives its parent (ABANDON):
    an order that continues as new or ends does not take its open returns with it. One RMA id, one workflow."""
    return await workflow.start_child_workflow(
        ReturnWorkflow.run,
        input,
        id=return_workflow_id(input.request.rma_id),
        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=return_search_attributes(input),
        static_summary=f"{input.request.kind.value} {input.request.rma_id} of order {input.order_id}",
    )


def _shipment(label: Label, input: ReturnWorkflowInput) -> ShipmentView:
    return ShipmentView(
        shipment_no=1,
        reference=label.reference,
        status=FulfillmentStatus.LABEL_CREATED,
        carrier=label.carrier,
        tracking_code=label.tracking_code,
        tracking_url=label.tracking_url,
        label_url=label.label_url,
        lines=input.lines,
    )


def _describe_label(label: Label) -> str:
    return f"{label.carrier} {label.service} {label.tracking_code}"


def _refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=Refusal.RETURN)
