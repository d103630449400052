"""``OrderWorkflow``: one durable owner of an order, from payment through delivery to the end of its return window.

authorize → reserve → (confirmed, tell the customer) → for each parcel: buy label → capture its value → commit its
stock → (shipped, tell the customer) → follow every parcel until delivered → accept returns and claims until the
window closes.

When the ERP cannot hold everything, the customer is told at once what is missing and chooses (story 4): ship what
is there now and the rest later, wait and ship together, or drop the missing items. Parcels that leave at
different times are each captured for their own value; since a card authorization is captured once, what still
waits is authorized again (``payment.authorize:{n}``), and renewed before the card network lets it lapse.

A business failure before anything ships undoes everything, newest first (void labels, release holds, void or
refund payments) and tells the customer once. After a parcel has left, a failure drops only what has not shipped.
What was done lives in one state model (``OrderState``), so compensation is derived from it and survives
continue-as-new.
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReserveStock
    from activities.notifications import NotificationActivities
    from activities.payment import AuthorizePayment, CapturePayment, PaymentActivities, ReversePayment
    from activities.shipping import BuyLabel, ShipmentRef, ShippingActivities
    from activities.status_events import PublishStatusEvents, StatusEventActivities
    from domain.backorder import Backorder, BackorderChoice, BackorderDecision, ShortLine
    from domain.contract import (
        ORDER_WORKFLOW,
        RETURN_WORKFLOW,
        VIEW,
        OrderSignal,
        OrderUpdate,
        Refusal,
        return_workflow_id,
    )
    from domain.currency import format_amount
    from domain.events import EventKind, StockEvent, UpstreamEvent
    from domain.inventory import Hold, StockRequest
    from domain.keys import hold_id, notification_id, shipment_reference
    from domain.order import Address, OrderLine
    from domain.order_view import (
        AddressChange,
        CanceledLine,
        CancelRequest,
        FailureReason,
        OrderStatusChanged,
        OrderView,
        OrderWorkflowInput,
        Outcome,
        ShipmentView,
        TimelineEntry,
        initial_view,
    )
    from domain.payment import Payment
    from domain.returns import (
        ReturnOutcome,
        ReturnRequest,
        ReturnStatus,
        ReturnView,
        ReturnWorkflowInput,
    )
    from domain.shipping import Label, TrackingStatus
    from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
    from domain.timeline import MessageRecord
    from notifications.notice import CustomerNotice, DelayCause, NoticeKind, TrackingLink, Undone
    from workflows import policies
    from workflows.failures import error_text, is_business_rejection
    from workflows.metrics import count_compensation, count_order_outcome
    from workflows.order_state import Authorization, HeldStock, OrderState, Parcel, RmaAllocation
    from workflows.saga import Compensations
    from workflows.search_attributes import (
        BACKORDERED_SKUS,
        CUSTOMER_ID,
        FULFILLMENT_STATUS,
        ORDER_ID,
        ORDER_STATUS,
        PAYMENT_STATUS,
        RETURN_STATUS,
    )

R = TypeVar("R")

# A reversal asked again reports what it did (``PaymentActivities.reverse``), so an authorization voided when it
# was renewed is no longer reversed at abort (it would be counted twice). Histories from before keep doing it.
RENEWED_NOT_REVERSED = "renewed-authorizations-not-reversed"

# Which business rejection means what, by the step that raised it.
_REJECTION_REASON = {
    "authorize_payment": FailureReason.PAYMENT_DECLINED,
    "reserve_stock": FailureReason.OUT_OF_STOCK,
    "buy_label": FailureReason.LABEL_REJECTED,
    "capture_payment": FailureReason.CAPTURE_FAILED,
}

_FULFILLMENT_BY_TRACKING = {
    TrackingStatus.LABEL_CREATED: FulfillmentStatus.LABEL_CREATED,
    TrackingStatus.IN_TRANSIT: FulfillmentStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: FulfillmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP: FulfillmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: FulfillmentStatus.DELIVERED,
    TrackingStatus.RETURNING_TO_SENDER: FulfillmentStatus.RETURNED_TO_SENDER,
    TrackingStatus.EXCEPTION: FulfillmentStatus.EXCEPTION,
    TrackingStatus.CANCELLED: FulfillmentStatus.CANCELED,
}
_FULFILLMENT_BY_EVENT = {
    EventKind.SHIPMENT_IN_TRANSIT: FulfillmentStatus.IN_TRANSIT,
    EventKind.SHIPMENT_OUT_FOR_DELIVERY: FulfillmentStatus.OUT_FOR_DELIVERY,
    EventKind.SHIPMENT_DELIVERED: FulfillmentStatus.DELIVERED,
    EventKind.SHIPMENT_EXCEPTION: FulfillmentStatus.EXCEPTION,
    EventKind.SHIPMENT_RETURNED_TO_SENDER: FulfillmentStatus.RETURNED_TO_SENDER,
}
# Messages that a cancellation makes untrue: never sent once the order is cancelled (issue 5).
_SUPERSEDED_BY_CANCELLATION = frozenset(
    {
        NoticeKind.ORDER_CONFIRMED,
        NoticeKind.BACKORDER_DECIDED,
        NoticeKind.ORDER_SHIPPED,
        NoticeKind.ORDER_DELAYED,
        NoticeKind.ORDER_DELIVERED,
    }
)
_PARCEL_ENDS = (FulfillmentStatus.DELIVERED, FulfillmentStatus.RETURNED_TO_SENDER, FulfillmentStatus.CANCELED)
# How far along a parcel is. Scans arrive unordered: one that is not further along than what we know is stale.
# An exception has no rank of its own: the next progress scan (even at the same stage) clears it.
_PROGRESS = {
    FulfillmentStatus.OPEN: 0,
    FulfillmentStatus.LABEL_CREATED: 1,
    FulfillmentStatus.IN_TRANSIT: 2,
    FulfillmentStatus.OUT_FOR_DELIVERY: 3,
    FulfillmentStatus.DELIVERED: 4,
    FulfillmentStatus.RETURNED_TO_SENDER: 4,
    FulfillmentStatus.CANCELED: 4,
}


class OrderAborted(Exception):
    """Internal: what has not shipped cannot go on; carries the reason told to the customer."""

    def __init__(self, reason: FailureReason, short_skus: list[str] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.short_skus = short_skus or []


@workflow.defn(name=ORDER_WORKFLOW)
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._order = input.order
        self._policy = input.policy
        if input.carried_over is not None:
            self._s = OrderState.model_validate(input.carried_over)
        else:
            self._s = OrderState(address=input.order.shipping_address)
        self._relabeling = False  # an address change is voiding a label and buying another: shipping waits
        self._aborted_by_update: OrderAborted | None = None
        self._abort_finished = False
        self._last_status = (self._s.status, self._s.payment_status, self._s.fulfillment_status)
        self._closing = False
        self._release_status_events = False  # set when the order comes to rest: queued events go out in one batch
        self._publisher: asyncio.Task[None] | None = None

    # -- the order's life ------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderView:
        if self._s.started_at is None:
            self._s.started_at = workflow.now()
            self._status_changed(force=True)
        if self._policy.publish_status_events:
            self._publisher = asyncio.create_task(self._publish_status_events())
        try:
            try:
                await self._fulfil()
            except OrderAborted as abort:
                await self._abort(abort)
            await self._follow_delivery()
            await self._after_sales()
        except asyncio.CancelledError:
            # An operator cancelled the workflow itself (UI, CLI). Before shipping: undo and tell the customer.
            # After: parcels are gone, so only stop following them and leave the order to a person.
            if self._s.shipped_any:
                self._record("follow_delivery", "failed", "stopped by an operator")
                self._update(status=OrderStatus.REQUIRES_ACTION)
            else:
                await self._abort(OrderAborted(FailureReason.CANCELED_BY_MERCHANT))
            await self._close()
            count_order_outcome(self._s.status.value)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._close()
        count_order_outcome(self._s.status.value)
        return self.view().model_copy(update={"finished": True})

    async def _close(self) -> None:
        """Index the final statuses and deliver the status events still queued before the run ends."""
        self._come_to_rest()
        self._closing = True
        if self._publisher is not None:
            await self._publisher

    async def _fulfil(self) -> None:
        """Authorize, reserve, settle any shortage with the customer, then ship parcels until nothing is owed."""
        s = self._s
        self._doing(f"Authorizing {self._money(self._order.total)} and holding the stock")
        if not s.authorizations:
            await self._authorize(self._order.total)
            self._update(payment=PaymentStatus.AUTHORIZED)
            self._stop_if_cancel_requested()
        if not s.holds:
            await self._reserve(self._order.lines)
        if self._missing() and s.backorder is None:
            await self._settle_backorder()
        elif s.status is OrderStatus.PENDING:
            self._stop_if_cancel_requested()  # never confirm an order the customer has already cancelled
            self._update(status=OrderStatus.CONFIRMED)
            await self._notify(NoticeKind.ORDER_CONFIRMED)
        while True:
            self._stop_if_cancel_requested()
            if s.held() and not (self._missing() and self._choice() is BackorderChoice.WAIT_FOR_ALL):
                await self._ship_wave()
                continue
            if not s.unshipped(self._order.lines):
                return
            await self._wait_for_stock()

    # -- backorders ----------------------------------------------------------------------------------------

    async def _settle_backorder(self) -> None:
        """Tell the customer what is short and their choices; act on their answer or, by the deadline, the
        default (and say which applied)."""
        s = self._s
        missing = self._missing()
        restock = {sku: day for hold in s.holds for sku, day in hold.restock_dates.items()}
        s.backorder = Backorder(
            lines=[ShortLine(sku=sku, missing=n, restock_date=restock.get(sku)) for sku, n in sorted(missing.items())],
            decide_by=workflow.now() + self._policy.backorder_decision_timeout,
            default=self._policy.backorder_default,
        )
        self._set_backordered_skus()
        self._update(status=OrderStatus.REQUIRES_ACTION)
        short = ", ".join(f"{line.missing} x {line.sku}" for line in s.backorder.lines)
        self._doing(f"Waiting for the customer's choice on {short} until {s.backorder.decide_by:%Y-%m-%d %H:%M} UTC")
        self._come_to_rest()  # before the message: a stock event finds the order by BackorderedSkus from now on
        await self._notify(NoticeKind.ORDER_BACKORDERED)
        with contextlib.suppress(TimeoutError):
            await self._rest_until(
                lambda: self._backorder_answered() or s.cancel is not None,
                give_up_after=self._policy.backorder_decision_timeout,
            )
        self._stop_if_cancel_requested()
        if not self._backorder_answered():
            s.backorder = s.backorder.model_copy(update={"choice": s.backorder.default, "decided_by": "default"})
            self._record("backorder", "info", f"no answer by the deadline: {s.backorder.default.value} applies")
        if self._choice() is BackorderChoice.CANCEL_MISSING:
            self._cancel_lines(self._missing(), FailureReason.CANCELED_MISSING_ITEMS)
            self._set_backordered_skus()
            if not s.unshipped(self._order.lines):
                raise OrderAborted(FailureReason.OUT_OF_STOCK, sorted(missing))
        self._update(status=OrderStatus.CONFIRMED)
        await self._notify(NoticeKind.BACKORDER_DECIDED)

    def _backorder_answered(self) -> bool:
        return self._s.backorder is not None and self._s.backorder.choice is not None

    def _choice(self) -> BackorderChoice | None:
        return self._s.backorder.choice if self._s.backorder else None

    @workflow.update(name=OrderUpdate.DECIDE_BACKORDER)
    async def decide_backorder(self, decision: BackorderDecision) -> OrderView:
        """The customer's answer to a shortage: ship what is there, wait for everything, or drop what is missing."""
        backorder = self._s.backorder
        assert backorder is not None  # the validator guarantees it
        self._s.backorder = backorder.model_copy(update={"choice": decision.choice, "decided_by": "customer"})
        self._record("backorder", "info", f"{decision.choice.value} chosen via {decision.requested_via}")
        await workflow.wait_condition(lambda: self._s.status is not OrderStatus.REQUIRES_ACTION)
        return self.view()

    @decide_backorder.validator
    def _backorder_decision_allowed(self, decision: BackorderDecision) -> None:
        if self._s.backorder is None:
            raise ApplicationError("nothing in this order is waiting for stock", type=Refusal.DECISION)
        if self._s.backorder.choice is not None:
            by = self._s.backorder.decided_by
            raise ApplicationError(
                f"already decided ({self._s.backorder.choice.value}, by {by})", type=Refusal.DECISION
            )
        if self._s.status.is_terminal or self._s.cancel is not None:
            raise ApplicationError(f"order is {self._s.status.value}", type=Refusal.DECISION)

    async def _wait_for_stock(self) -> None:
        """Wait for missing items: woken by an ERP stock event for one of them, or by the recheck interval. Renew
        the authorization before it lapses; give up on what is still missing after the longest wait."""
        s = self._s
        await self._continue_as_new_if_long()
        self._set_backordered_skus()
        now = workflow.now()
        assert s.started_at is not None
        give_up_at = s.started_at + self._policy.backorder_max_wait
        current = s.current_authorization()
        renew_at = current.at + self._policy.authorization_validity if current else give_up_at
        wake_at = min(give_up_at, renew_at, now + self._policy.backorder_recheck_interval)
        missing = ", ".join(f"{n} x {sku}" for sku, n in sorted(self._missing().items()))
        self._doing(f"Waiting for stock of {missing}; authorization renews at {renew_at:%Y-%m-%d %H:%M} UTC")
        with contextlib.suppress(TimeoutError):
            await self._rest_until(
                lambda: s.restock_seen or s.cancel is not None or self._aborted_by_update is not None,
                give_up_after=max(wake_at - now, timedelta(seconds=1)),
            )
        now = workflow.now()
        if s.cancel is not None or self._aborted_by_update is not None:
            return  # the loop stops
        if now >= give_up_at:
            self._record("backorder", "failed", "still missing after the longest wait")
            raise OrderAborted(FailureReason.RESTOCK_TOO_LATE)
        if now >= renew_at:
            await self._renew_authorization()
            if not s.unshipped(self._order.lines):
                return
        s.restock_seen = False
        await self._reserve_missing()

    async def _reserve_missing(self) -> None:
        """Try to hold everything still missing; a partial hold is given back (the order waits on, whole)."""
        missing = self._missing()
        lines = [OrderLine(sku=sku, quantity=n, unit_price=self._unit_price(sku)) for sku, n in sorted(missing.items())]
        hold = await self._reserve(lines)
        if hold.short_lines:
            await workflow.execute_activity_method(
                InventoryActivities.release,
                HoldRef(hold_id=hold.hold_id),
                summary=f"Releasing {hold.hold_id}: the restock is not enough yet",
                **policies.COMPENSATION,
            )
            self._held_stock(hold.hold_id).status = "released"
            self._record("backorder", "info", "restock not enough yet; still waiting")
            return
        self._record("backorder", "succeeded", "missing items now held")
        self._set_backordered_skus()

    async def _renew_authorization(self) -> None:
        """Void the ageing authorization, then authorize again what it still covers. A decline drops what waits."""
        s = self._s
        current = s.current_authorization()
        if current is None:
            return
        amount = self._unshipped_value()
        reversal = await workflow.execute_activity_method(
            PaymentActivities.reverse,
            ReversePayment(order_id=self._order.order_id, n=current.n, refund_captured=False),
            summary=f"Voiding authorization {current.n} before it lapses",
            **policies.COMPENSATION,
        )
        current.ended = current.renewed = True
        self._record(
            "renew_authorization", "info", f"voided authorization {current.n} ({self._money(reversal.voided)})"
        )
        try:
            await self._authorize(amount)
        except OrderAborted:
            self._update(payment=PaymentStatus.AUTH_EXPIRED)
            raise OrderAborted(FailureReason.AUTHORIZATION_RENEWAL_DECLINED) from None

    # -- shipping ------------------------------------------------------------------------------------------

    async def _ship_wave(self) -> None:
        """Everything held now leaves: one parcel per warehouse holding it, each labelled and captured for its own
        value; then the stock is committed and the customer told, with every tracking link. An authorization is
        captured once, so after each capture whatever is still owed is authorized afresh."""
        s = self._s
        captured_in_wave: list[Authorization] = []
        groups = s.held_by_location()
        self._doing(f"Shipping {len(groups)} parcel(s): label, capture, stock committed")
        for number, units in enumerate(groups, start=1):
            lines = [
                OrderLine(sku=sku, quantity=n, unit_price=self._unit_price(sku)) for sku, n in sorted(units.items())
            ]
            value = sum(line.amount for line in lines)
            await self._buy_label(lines, value)
            self._stop_if_cancel_requested()
            captured_in_wave.append(await self._capture(value))
            if number < len(groups):  # the next parcel of this wave needs an authorization of its own
                owed = self._unshipped_value() - sum(a.payment.captured for a in captured_in_wave if a.payment)
                await self._authorize(owed)
        for hold in s.holds:
            if hold.status == "held":
                await self._step(
                    "commit_stock",
                    InventoryActivities.commit,
                    HoldRef(hold_id=hold.hold_id),
                    summary=f"Committing {hold.hold_id}: the goods leave the warehouse",
                )
                hold.status = "committed"
        # A label being replaced has no tracking code to give yet: tell the customer once the new one exists.
        await workflow.wait_condition(lambda: not self._relabeling)
        wave = [a.parcel for a in captured_in_wave]
        s.shipments = [x.model_copy(update={"captured": True}) if x.reference in wave else x for x in s.shipments]
        s.capturing = False
        remaining = self._unshipped_value()
        self._update(payment=PaymentStatus.PARTIALLY_CAPTURED if remaining else PaymentStatus.CAPTURED)
        await self._notify(NoticeKind.ORDER_SHIPPED, tracking_of=[ref for ref in wave if ref])
        if remaining and s.current_authorization() is None:  # what waits for stock is authorized afresh
            try:
                await self._authorize(remaining)
            except OrderAborted:
                raise OrderAborted(FailureReason.AUTHORIZATION_RENEWAL_DECLINED) from None

    async def _capture(self, value: int) -> Authorization:
        """Capture the newest parcel's value on the live authorization (which then covers nothing more)."""
        s = self._s
        authorization = s.current_authorization()
        if authorization is None or authorization.payment is None:  # cannot happen; if it did, end, don't hang
            self._record("capture_payment", "failed", "no live authorization covers this parcel")
            raise OrderAborted(FailureReason.SYSTEM_ERROR)
        s.capturing = True  # from here the money moves: cancelling is no longer possible
        authorization.parcel = self._label_reference()
        captured = await self._step(
            "capture_payment",
            PaymentActivities.capture,
            CapturePayment(
                order_id=self._order.order_id,
                payment=authorization.payment,
                amount=value,
                n=sum(1 for a in s.authorizations if a.parcel),
            ),
            lambda p: f"captured {format_amount(p.captured, p.currency)}",
            summary=f"Capturing {self._money(value)} for shipment {authorization.parcel.rsplit(':', 1)[-1]}",
        )
        authorization.payment, authorization.ended = captured, True
        return authorization

    # -- undoing -------------------------------------------------------------------------------------------

    async def _abort(self, abort: OrderAborted) -> None:
        """Undo everything that has not shipped, newest first (labels, holds, the money that covered it), then
        tell the customer once. Nothing shipped: the order is cancelled. A parcel left: only the rest is dropped."""
        s = self._s
        partial = s.shipped_any
        unshipped = s.unshipped(self._order.lines)
        if not partial:
            s.failure_reason = abort.reason
        if abort.reason is FailureReason.PAYMENT_DECLINED and not partial:
            self._update(payment=PaymentStatus.FAILED)
        self._doing(f"Undoing what has not shipped: {abort.reason.value}")
        saga = Compensations()
        for authorization in s.authorizations:
            if authorization.renewed and workflow.patched(RENEWED_NOT_REVERSED):
                continue  # voided before it lapsed, and authorized again: nothing of it left to undo
            if authorization.parcel is None or not self._parcel_left(authorization.parcel):
                saga.add("payment", self._reverse_payment(authorization))
        for hold in s.holds:
            if hold.status in ("requested", "held"):
                saga.add("stock", self._release_hold(hold.hold_id))
        for reference in s.label_attempts:
            if not self._parcel_left(reference):
                saga.add("label", self._void_label(reference))
        failed: list[str] = []

        def on_failure(name: str, error: BaseException) -> None:
            failed.append(name)
            self._record(f"undo_{name}", "failed", str(error))

        await saga.unwind(on_failure)
        self._set_backordered_skus(clear=True)
        # A compensation that could not finish (a label the carrier refuses to void) needs a person.
        if partial:
            self._cancel_lines(unshipped, abort.reason)
            self._update(
                status=OrderStatus.REQUIRES_ACTION if failed else OrderStatus.CONFIRMED, payment=PaymentStatus.CAPTURED
            )
            await self._notify(NoticeKind.ITEMS_CANCELED, canceled_skus=sorted(unshipped))
        else:
            self._update(
                status=OrderStatus.REQUIRES_ACTION if failed else OrderStatus.CANCELED,
                fulfillment=FulfillmentStatus.CANCELED,
            )
            await self._notify(NoticeKind.ORDER_CANCELED, short_skus=abort.short_skus)
        self._abort_finished = True

    def _parcel_left(self, reference: str) -> bool:
        return any(x.reference == reference and x.captured for x in self._s.shipments)

    def _cancel_lines(self, units: Counter[str], reason: FailureReason) -> None:
        for sku, quantity in sorted(units.items()):
            amount = quantity * self._unit_price(sku)
            self._s.canceled_lines.append(CanceledLine(sku=sku, quantity=quantity, amount=amount, reason=reason))
            self._record("line_canceled", "compensated", f"{quantity} x {sku}: {reason.value}")

    # -- compensations: each a no-op when its step never happened --------------------------------------------

    def _reverse_payment(self, authorization: Authorization) -> Callable[[], Awaitable[None]]:
        """Void what the authorization still holds, refund what it captured for a parcel that never left."""

        async def reverse() -> None:
            reversal = await workflow.execute_activity_method(
                PaymentActivities.reverse,
                ReversePayment(order_id=self._order.order_id, n=authorization.n),
                summary=f"Undo: voiding or refunding authorization {authorization.n}",
                **policies.COMPENSATION,
            )
            authorization.ended = True
            if reversal.voided:
                self._update(payment=PaymentStatus.VOIDED)
                self._s.undone.append(Undone.PAYMENT_VOIDED)
                self._note_undone("payment voided", self._money(reversal.voided))
            if reversal.refunded:
                self._update(payment=PaymentStatus.REFUNDED)
                self._s.undone.append(Undone.PAYMENT_REFUNDED)
                self._note_undone("payment refunded", self._money(reversal.refunded))
            self._s.amount_returned += reversal.voided + reversal.refunded

        return reverse

    def _release_hold(self, hold_id: str) -> Callable[[], Awaitable[None]]:
        async def release() -> None:
            hold = await workflow.execute_activity_method(
                InventoryActivities.release,
                HoldRef(hold_id=hold_id),
                summary=f"Undo: releasing {hold_id}",
                **policies.COMPENSATION,
            )
            self._held_stock(hold_id).status = "released"
            if hold is not None and hold.units_held:
                if Undone.STOCK_RELEASED not in self._s.undone:
                    self._s.undone.append(Undone.STOCK_RELEASED)
                self._note_undone("stock released", f"{hold.units_held} units")

        return release

    def _void_label(self, reference: str) -> Callable[[], Awaitable[None]]:
        async def void() -> None:
            result = await workflow.execute_activity_method(
                ShippingActivities.void_label,
                ShipmentRef(reference=reference),
                summary=f"Undo: voiding label {reference}",
                **policies.COMPENSATION,
            )
            if result.voided:
                if Undone.LABEL_VOIDED not in self._s.undone:
                    self._s.undone.append(Undone.LABEL_VOIDED)
                self._note_undone("label voided", result.reference)
            self._mark_shipment(reference, FulfillmentStatus.CANCELED)

        return void

    # -- after shipping ----------------------------------------------------------------------------------------

    async def _follow_delivery(self) -> None:
        """Wait for the carrier's scans (webhooks) until every parcel is delivered or comes back; ask the carrier
        ourselves when none has arrived for a while; hand over to a person after the deadline."""
        s = self._s
        if not s.shipped_any or s.status.is_terminal:
            return
        if s.delivery_deadline is None:
            s.delivery_deadline = workflow.now() + self._policy.delivery_deadline
        deadline = s.delivery_deadline
        while True:
            await workflow.wait_condition(lambda: not self._relabeling)  # a parcel between two labels still moves
            if not self._parcels_moving():
                break
            await self._continue_as_new_if_long()
            remaining = deadline - workflow.now()
            where = ", ".join(f"shipment {x.shipment_no} {x.status.value}" for x in self._parcels_moving())
            self._doing(f"Following {where} until delivered (deadline {deadline:%Y-%m-%d})")
            if remaining <= timedelta(0):
                self._record("follow_delivery", "failed", "no delivery scan before the deadline")
                self._update(status=OrderStatus.REQUIRES_ACTION)
                return
            try:
                await self._rest_until(
                    _changed(lambda: ([x.status for x in self._parcels_moving()], self._relabeling)),
                    give_up_after=min(self._policy.tracking_poll_interval, remaining, self._until_promised_date()),
                )
            except TimeoutError:
                for shipment in self._parcels_moving():
                    await self._poll_tracking(shipment.reference)
            await self._tell_about_delays()
        delivered = any(x.status is FulfillmentStatus.DELIVERED for x in s.shipments if x.captured)
        if delivered:
            s.delivered_at = workflow.now()
        self._update(status=OrderStatus.COMPLETED if delivered else OrderStatus.REQUIRES_ACTION)
        if delivered:
            await self._notify(NoticeKind.ORDER_DELIVERED)

    def _promised_deadline(self) -> datetime | None:
        """The end (UTC) of the delivery date promised at checkout."""
        promised = self._order.promised_delivery_date
        return datetime.combine(promised + timedelta(days=1), time(0), tzinfo=UTC) if promised else None

    def _until_promised_date(self) -> timedelta:
        deadline = self._promised_deadline()
        if deadline is None or "promised" in self._s.delays_told:
            return timedelta(days=365)
        return max(deadline - workflow.now(), timedelta(seconds=1))

    async def _tell_about_delays(self) -> None:
        """Tell the customer before they have to ask (story 1): once per parcel the carrier reports a problem
        with, and once when the promised date passes without a delivery."""
        s = self._s
        for parcel in self._parcels_moving():
            if parcel.status is FulfillmentStatus.EXCEPTION and parcel.reference not in s.delays_told:
                s.delays_told.append(parcel.reference)
                await self._notify(
                    NoticeKind.ORDER_DELAYED, tracking_of=[parcel.reference], delay=DelayCause.CARRIER_EXCEPTION
                )
        deadline = self._promised_deadline()
        if deadline and workflow.now() >= deadline and "promised" not in s.delays_told and self._parcels_moving():
            s.delays_told.append("promised")
            moving = [x.reference for x in self._parcels_moving()]
            await self._notify(NoticeKind.ORDER_DELAYED, tracking_of=moving, delay=DelayCause.PAST_PROMISED_DATE)

    def _doing(self, what: str) -> None:
        """What the order is doing now, shown as the workflow's current details in the Temporal UI."""
        workflow.set_current_details(what)

    def _parcels_moving(self) -> list[ShipmentView]:
        return [x for x in self._s.shipments if x.captured and x.status not in _PARCEL_ENDS]

    async def _poll_tracking(self, reference: str) -> None:
        try:
            tracking = await workflow.execute_activity_method(
                ShippingActivities.track,
                ShipmentRef(reference=reference),
                summary=f"Asking the carrier about {reference}",
                **policies.TRACK,
            )
        except ActivityError as error:
            self._record("track_shipment", "failed", error_text(error))
            return
        status = _FULFILLMENT_BY_TRACKING.get(tracking.status)
        if status is not None:
            self._advance_parcel(reference, status, f"carrier: {tracking.raw_status}")

    def _advance_parcel(self, reference: str, status: FulfillmentStatus, detail: str) -> None:
        shipment = next((x for x in self._s.shipments if x.reference == reference), None)
        if shipment is None:
            return
        current = shipment.status
        if current in _PARCEL_ENDS or status is current:
            return
        parcel = self._s.parcels.setdefault(reference, Parcel(progress=_PROGRESS[FulfillmentStatus.LABEL_CREATED]))
        if status is not FulfillmentStatus.EXCEPTION:
            known = _PROGRESS[current] if current is not FulfillmentStatus.EXCEPTION else parcel.progress
            if _PROGRESS[status] < known or (_PROGRESS[status] == known and current is not FulfillmentStatus.EXCEPTION):
                self._record("tracking", "skipped", f"stale {status.value} ({detail})")
                return
            parcel.progress = _PROGRESS[status]
        self._mark_shipment(reference, status)
        outcome: Outcome = "failed" if status is FulfillmentStatus.EXCEPTION else "succeeded"
        self._record("tracking", outcome, f"{status.value} ({detail})")

    # -- after delivery: returns and claims ----------------------------------------------------------------

    async def _after_sales(self) -> None:
        """Stay open through the return window (and until every RMA opened in it has closed): the order is the
        one place that knows what was delivered, paid and already returned, so it decides what may come back."""
        s = self._s
        if s.delivered_at is None:
            return
        closes = s.delivered_at + self._policy.returns.window
        while True:
            await self._continue_as_new_if_long()
            open_rmas = any(rma.outcome is None for rma in s.rmas.values())
            remaining = closes - workflow.now()
            opened = sum(rma.outcome is None for rma in s.rmas.values())
            self._doing(f"Delivered; returns accepted until {closes:%Y-%m-%d %H:%M} UTC; {opened} RMA(s) open")
            if remaining <= timedelta(0) and not open_rmas:
                return
            with contextlib.suppress(TimeoutError):
                await self._rest_until(
                    _changed(lambda: (len(s.rmas), sum(rma.outcome is not None for rma in s.rmas.values()))),
                    give_up_after=remaining if remaining > timedelta(0) else None,
                )

    @workflow.update(name=OrderUpdate.OPEN_RETURN)
    async def open_return(self, request: ReturnRequest) -> ReturnView:
        """A return, exchange or claim from any channel (story 5): checked here against what was delivered and
        not already returned, then owned by its own after-sales workflow, ``return:{rma_id}``."""
        s = self._s
        s.rmas[request.rma_id] = RmaAllocation(
            lines={line.sku: line.quantity for line in request.lines},
            budget=self._refund_budget(sum(line.quantity * self._unit_price(line.sku) for line in request.lines)),
        )
        lines = [OrderLine(sku=x.sku, quantity=x.quantity, unit_price=self._unit_price(x.sku)) for x in request.lines]
        payments = [
            self._budgeted(a.payment, s.rmas[request.rma_id].budget.get(a.n, 0))
            for a in s.authorizations
            if a.payment is not None and a.payment.captured
        ]
        rma_input = ReturnWorkflowInput(
            request=request,
            order_id=self._order.order_id,
            order_workflow_id=workflow.info().workflow_id,
            customer=self._order.customer,
            currency=self._order.currency,
            address=s.address,
            lines=lines,
            payments=[p for p in payments if p.refundable > 0],
            policy=self._policy.returns,
            requested_at=workflow.now(),
        )
        try:
            await self._start_after_sales(request, rma_input)
        except WorkflowAlreadyStartedError:
            del s.rmas[request.rma_id]  # the RMA id belongs to another order's after-sales flow
            raise _return_refused(f"RMA {request.rma_id} is already in use") from None
        self._record("after_sales", "info", f"{request.kind.value} {request.rma_id} opened via {request.channel}")
        return ReturnView(
            rma_id=request.rma_id,
            order_id=self._order.order_id,
            kind=request.kind,
            channel=request.channel,
            status=ReturnStatus.REQUESTED,
            lines=lines,
            claim_reason=request.claim_reason,
            currency=self._order.currency,
        )

    async def _start_after_sales(self, request: ReturnRequest, rma_input: ReturnWorkflowInput) -> None:
        """The RMA's own workflow, not a part of this one: it outlives the order's return window if it must."""
        await workflow.start_child_workflow(
            RETURN_WORKFLOW,
            rma_input,
            id=return_workflow_id(request.rma_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(ORDER_ID, self._order.order_id),
                    SearchAttributePair(CUSTOMER_ID, self._order.customer.id),
                    SearchAttributePair(RETURN_STATUS, ReturnStatus.REQUESTED.value),
                ]
            ),
        )

    @open_return.validator
    def _return_allowed(self, request: ReturnRequest) -> None:
        s = self._s
        if request.rma_id in s.rmas:
            raise _return_refused(f"RMA {request.rma_id} already exists on this order")
        if s.delivered_at is None:
            raise _return_refused("nothing in this order has been delivered yet")
        closes = s.delivered_at + self._policy.returns.window
        if workflow.now() >= closes:
            raise _return_refused(f"the return window closed on {closes.date().isoformat()}")
        available = s.delivered() - s.in_returns()
        for line in request.lines:
            if line.quantity > available[line.sku]:
                raise _return_refused(
                    f"{line.sku}: {line.quantity} requested, {available[line.sku]} delivered and not already returned"
                )

    @workflow.signal(name=OrderSignal.AFTER_SALES_CLOSED)
    def after_sales_closed(self, outcome: ReturnOutcome) -> None:
        """An RMA of this order ended: what came back and what was refunded now count for later requests."""
        rma = self._s.rmas.get(outcome.rma_id)
        if rma is None or rma.outcome is not None:
            return
        rma.outcome = outcome
        left = outcome.refunded
        for authorization in self._s.authorizations:
            share = min(left, rma.budget.get(authorization.n, 0))
            if share and authorization.payment is not None:
                payment = authorization.payment
                authorization.payment = payment.model_copy(update={"refunded": payment.refunded + share})
                left -= share
        if outcome.refunded:
            refunded = sum(a.payment.refunded for a in self._s.authorizations if a.payment is not None)
            captured = sum(a.payment.captured for a in self._s.authorizations if a.payment is not None)
            self._update(payment=PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED)
        self._record("after_sales", "info", f"{outcome.kind.value} {outcome.rma_id} {outcome.status.value}")

    def _refund_budget(self, value: int) -> dict[int, int]:
        """Share ``value`` over the captured authorizations, oldest first, net of refunds and open RMAs' budgets."""
        reserved: Counter[int] = Counter()
        for rma in self._s.rmas.values():
            if rma.outcome is None:
                reserved.update(rma.budget)
        budget: dict[int, int] = {}
        for authorization in self._s.authorizations:
            payment = authorization.payment
            if payment is None or not payment.captured or value <= 0:
                continue
            share = min(value, payment.refundable - reserved[authorization.n])
            if share > 0:
                budget[authorization.n] = share
                value -= share
        return budget

    @staticmethod
    def _budgeted(payment: Payment, budget: int) -> Payment:
        """The payment as the RMA sees it: refundable up to its budget, so concurrent RMAs never over-refund."""
        return payment.model_copy(update={"refunded": payment.captured - budget})

    # -- what upstreams tell us ----------------------------------------------------------------------------

    @workflow.signal(name=OrderSignal.RECORD_EVENT)
    def record_event(self, event: UpstreamEvent) -> None:
        """A verified webhook from the ERP, the carrier or the payment provider. Deliveries are at least once
        and unordered: a repeated event id is dropped, a scan older than the newest applied one is stale."""
        s = self._s
        if event.event_id in s.seen_events:
            return
        s.seen_events.append(event.event_id)
        status = _FULFILLMENT_BY_EVENT.get(event.kind)
        if status is not None:
            self._apply_scan(event, status)
        elif event.kind is EventKind.SHIPMENT_CONFIRMED:
            self._record("warehouse", "info", f"shipment confirmed {event.tracking_code or ''}".strip())
        elif event.kind is EventKind.REFUND_SUCCEEDED:
            self._record("refund", "succeeded", self._money(event.amount or 0))
        elif event.kind is EventKind.REFUND_FAILED:
            self._record("refund", "failed", event.reason)
        elif event.kind is EventKind.DISPUTE_OPENED:
            self._record(
                "dispute", "failed", f"opened: {event.reason or 'no reason given'}, {self._money(event.amount or 0)}"
            )

    def _apply_scan(self, event: UpstreamEvent, status: FulfillmentStatus) -> None:
        s = self._s
        reference = event.shipment_reference or self._label_reference()
        shipment = next((x for x in s.shipments if x.reference == reference), None)
        if shipment is None and reference in s.label_attempts:
            # The label is being bought: its parcel exists once the answer is in.
            s.early_scans.append(event.model_copy(update={"shipment_reference": reference}))
            return
        if shipment is None:
            self._record("tracking", "skipped", f"{status.value} for unknown parcel {reference}")
            return
        if shipment.status is FulfillmentStatus.CANCELED:
            self._record("tracking", "skipped", f"{status.value} for voided label {reference}")
            return
        parcel = s.parcels.setdefault(reference, Parcel(progress=_PROGRESS[FulfillmentStatus.LABEL_CREATED]))
        if parcel.latest_scan_at is not None and event.occurred_at < parcel.latest_scan_at:
            self._record("tracking", "skipped", f"stale {status.value} (scanned {event.occurred_at.isoformat()})")
            return
        parcel.latest_scan_at = event.occurred_at
        self._advance_parcel(reference, status, f"{event.source}: {event.raw_status or event.kind.value}")

    @workflow.signal(name=OrderSignal.STOCK_CHANGED)
    def stock_changed(self, event: StockEvent) -> None:
        """The ERP says a SKU's stock moved: if this order waits for it, try to reserve again now."""
        if event.event_id in self._s.seen_events:
            return
        self._s.seen_events.append(event.event_id)
        if self._missing()[event.sku] and event.available > 0:
            self._s.restock_seen = True
            self._record("backorder", "info", f"{event.sku} back in stock ({event.available} available)")

    # -- customer decisions --------------------------------------------------------------------------------

    @workflow.update(name=OrderUpdate.CANCEL)
    async def cancel(self, request: CancelRequest) -> OrderView:
        """Cancel before shipping: everything done so far is undone and the customer told once."""
        self._s.cancel = request
        self._record("cancel_requested", "info", f"via {request.requested_via}: {request.reason}")
        await workflow.wait_condition(lambda: self._s.status.is_terminal or self._abort_finished)
        return self.view()

    @cancel.validator
    def _cancel_allowed(self, request: CancelRequest) -> None:
        # Rejected here, the request never enters the history.
        s = self._s
        if s.status.is_terminal:
            raise ApplicationError(f"order is already {s.status.value}", type=Refusal.CANCEL)
        if s.shipped_any or s.capturing:
            raise ApplicationError("order has shipped; start a return instead", type=Refusal.CANCEL)
        if s.cancel is not None:
            raise ApplicationError("cancellation already requested", type=Refusal.CANCEL)

    def _stop_if_cancel_requested(self) -> None:
        if self._aborted_by_update is not None:
            raise self._aborted_by_update
        if self._s.cancel is not None and not (self._s.shipped_any or self._s.capturing):
            raise OrderAborted(FailureReason.CANCELED_BY_CUSTOMER)

    @workflow.update(name=OrderUpdate.CHANGE_SHIPPING_ADDRESS)
    async def change_shipping_address(self, change: AddressChange) -> OrderView:
        """Parcels not yet labelled simply go to the new address. Labelled ones the carrier has not scanned yet are
        relabelled: their unused labels voided, new ones bought. If the carrier refuses to void one, nothing
        changes (labels already replaced are bought again for the old address) and we say why. The goods and the
        money are the same either way."""
        s = self._s
        previous, s.address = s.address, change.shipping_address
        self._record("shipping_address", "info", f"changed via {change.requested_via}")
        self._relabeling = True
        try:
            await workflow.wait_condition(lambda: self._labels_settled() or s.failure_reason is not None)
            if s.failure_reason is not None:
                raise _address_refused("the order is being cancelled")
            if not self._address_applies():  # the carrier scanned the last parcel while we waited
                s.address = previous
                raise _address_refused("the parcel is already with the carrier")
            unused = [x for x in s.shipments if x.status is FulfillmentStatus.LABEL_CREATED]
            relabelled = await self._relabel(unused, previous)
        finally:
            self._relabeling = False
        sent = [x.reference for x in relabelled if x.captured]
        if sent:  # the tracking the customer has is void: send the new one
            await self._notify(NoticeKind.ORDER_SHIPPED, tracking_of=sent)
        return self.view()

    async def _relabel(self, unused: list[ShipmentView], previous: Address) -> list[ShipmentView]:
        """Void every unused label, then buy one per parcel for the current address. When the carrier refuses a
        void, the address goes back and the parcels already voided are labelled again for it."""
        s = self._s
        voided: list[ShipmentView] = []
        refusal: str | None = None
        for old in unused:
            try:
                await workflow.execute_activity_method(
                    ShippingActivities.void_label,
                    ShipmentRef(reference=old.reference),
                    summary=f"Voiding label {old.reference}: the address changed",
                    **policies.STEP,
                )
            except ActivityError as error:
                self._record("void_label", "failed", error_text(error))
                refusal = "the carrier would not cancel the label already printed"
                break
            self._mark_shipment(old.reference, FulfillmentStatus.CANCELED)
            self._record("label_voided", "compensated", f"shipment {old.shipment_no}: address changed")
            voided.append(old)
        if refusal is not None:
            s.address = previous
        relabelled: list[ShipmentView] = []
        for old in voided:
            try:
                await self._buy_label(old.lines, old.value, captured=old.captured)
            except OrderAborted as abort:
                self._aborted_by_update = abort  # the saga sees it at its next step and compensates
                raise _address_refused("no label could be bought for the new address") from None
            new = self._current_shipment()
            for authorization in s.authorizations:
                if authorization.parcel == old.reference:
                    authorization.parcel = new.reference
            relabelled.append(new)
        if refusal is not None:
            raise _address_refused(refusal)
        return relabelled

    @change_shipping_address.validator
    def _address_change_allowed(self, change: AddressChange) -> None:
        if self._s.status.is_terminal:
            raise ApplicationError(f"order is already {self._s.status.value}", type=Refusal.ADDRESS_CHANGE)
        if not self._address_applies():
            raise _address_refused("the parcel is already with the carrier")
        if self._relabeling:
            raise _address_refused("another address change is being applied")

    @workflow.query(name=VIEW)
    def view(self) -> OrderView:
        s = self._s
        captured = sum(a.payment.captured for a in s.authorizations if a.payment is not None)
        refunded = sum(a.payment.refunded for a in s.authorizations if a.payment is not None)
        return initial_view(self._order).model_copy(
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
                "return_window_ends": s.delivered_at + self._policy.returns.window if s.delivered_at else None,
            }
        )

    # -- steps -----------------------------------------------------------------------------------------------

    async def _authorize(self, amount: int) -> Payment:
        s = self._s
        authorization = Authorization(n=len(s.authorizations) + 1, amount=amount, at=workflow.now())
        s.authorizations.append(authorization)
        try:
            payment = await self._step(
                "authorize_payment",
                PaymentActivities.authorize,
                AuthorizePayment(
                    order_id=self._order.order_id,
                    amount=amount,
                    currency=self._order.currency,
                    payment_method=self._order.payment_method,
                    n=authorization.n,
                ),
                lambda p: f"authorized {format_amount(p.authorized, p.currency)}",
                summary=f"Authorizing {self._money(amount)} (authorization {authorization.n})",
            )
        except OrderAborted:
            authorization.ended = True
            raise
        authorization.payment = payment
        return payment

    async def _reserve(self, lines: list[OrderLine]) -> Hold:
        s = self._s
        hold = HeldStock(hold_id=hold_id(self._order.order_id, len(s.holds) + 1))
        s.holds.append(hold)
        result = await self._step(
            "reserve_stock",
            InventoryActivities.reserve,
            ReserveStock(
                order_id=self._order.order_id,
                hold_id=hold.hold_id,
                lines=[StockRequest(sku=line.sku, quantity=line.quantity) for line in lines],
            ),
            lambda h: f"held {h.units_held} units",
            summary=f"Holding {sum(line.quantity for line in lines)} units as {hold.hold_id}",
        )
        hold.lines = {line.sku: line.held for line in result.lines if line.held}
        hold.restock_dates = {line.sku: line.restock_date for line in result.lines if line.short and line.restock_date}
        hold.locations = {line.sku: line.location for line in result.lines if line.held and line.location}
        hold.status = "held"
        if result.short_lines:
            short = ", ".join(f"{line.sku} (missing {line.short})" for line in result.short_lines)
            self._record("reserve_stock", "info", f"short: {short}")
        return result

    async def _buy_label(self, lines: list[OrderLine], value: int, *, captured: bool = False) -> None:
        s = self._s
        number = len(s.label_attempts) + 1
        reference = shipment_reference(self._order.order_id, number)
        s.label_attempts.append(reference)
        label = await self._step(
            "buy_label",
            ShippingActivities.buy_label,
            BuyLabel(
                order_id=self._order.order_id,
                reference=reference,
                address=s.address,
                name=self._order.customer.name,
            ),
            lambda lbl: f"{lbl.carrier} {lbl.service} {lbl.tracking_code}",
            summary=f"Buying the label for shipment {number} ({self._money(value)} of goods)",
        )
        self._add_shipment(number, label, lines, value, captured)

    async def _step(
        self,
        name: str,
        activity: Callable[[Any, Any], Awaitable[R]],
        arg: Any,
        describe: Callable[[R], str] | None = None,
        *,
        summary: str,
    ) -> R:
        """Run one forward step; a failure that survived its retries aborts what has not shipped, with a reason.
        ``summary`` is what the Temporal UI shows for the activity, so an engineer reads the order at a glance."""
        try:
            result: R = await workflow.execute_activity_method(activity, arg, summary=summary, **policies.STEP)
        except ActivityError as error:
            self._record(name, "failed", error_text(error))
            self._fail(name, error)
        self._record(name, "succeeded", describe(result) if describe else None)
        return result

    def _fail(self, step: str, error: ActivityError) -> NoReturn:
        if is_business_rejection(error):
            raise OrderAborted(_REJECTION_REASON.get(step, FailureReason.SYSTEM_ERROR)) from error
        # Configuration errors, exhausted retries, timeouts: not the customer's doing, still an ending.
        raise OrderAborted(FailureReason.SYSTEM_ERROR) from error

    async def _notify(
        self,
        kind: NoticeKind,
        *,
        short_skus: list[str] | None = None,
        canceled_skus: list[str] | None = None,
        tracking_of: list[str] | None = None,
        delay: DelayCause | None = None,
    ) -> None:
        order, s = self._order, self._s
        seq = 1 + sum(f".{kind.value}." in sent for sent in s.messages_sent)
        notice = CustomerNotice(
            order_id=order.order_id,
            kind=kind,
            seq=seq,
            customer=order.customer,
            currency=order.currency,
            total=self._notice_total(kind, tracking_of),
            tracking=[
                TrackingLink(carrier=x.carrier or "", tracking_code=x.tracking_code, url=x.tracking_url)
                for x in s.shipments
                if x.tracking_code and tracking_of and x.reference in tracking_of
            ],
            reason=s.failure_reason,
            short_skus=short_skus or [],
            undone=s.undone,
            amount_returned=s.amount_returned,
            backorder=s.backorder,
            canceled_skus=canceled_skus or [line.sku for line in s.canceled_lines],
            delay=delay,
            promised_by=order.promised_delivery_date,
            decision_url=self._decision_url() if kind is NoticeKind.ORDER_BACKORDERED else None,
        )
        step = f"notify_{kind.value}"
        if s.status is OrderStatus.CANCELED and kind in _SUPERSEDED_BY_CANCELLATION:
            self._record(step, "skipped", "the order was cancelled meanwhile: this message would contradict it")
            return
        try:
            delivery = await workflow.execute_activity_method(
                NotificationActivities.notify, notice, summary=f"Telling the customer: {kind.value}", **policies.NOTIFY
            )
        except ActivityError as error:
            # A message that cannot be delivered does not undo the order; it is visible for follow-up.
            self._record(step, "failed", error_text(error))
            return
        sent = notification_id(order.order_id, kind.value, seq)
        s.messages_sent.append(sent)
        s.messages.append(
            MessageRecord(
                notification_id=sent,
                kind=kind.value,
                channel=delivery.sent_on,
                subject=delivery.subject,
                at=workflow.now(),
            )
        )
        self._record(step, "succeeded")

    def _decision_url(self) -> str | None:
        template = self._policy.backorder_decision_url
        return template.replace("{order_id}", quote(self._order.order_id, safe="")) if template else None

    def _notice_total(self, kind: NoticeKind, tracking_of: list[str] | None) -> int:
        """The amount a message speaks of: the parcel's value when it ships, what is still owed otherwise."""
        if kind is NoticeKind.ORDER_SHIPPED and tracking_of:
            return sum(x.value for x in self._s.shipments if x.reference in tracking_of)
        return self._order.total - sum(line.amount for line in self._s.canceled_lines)

    # -- state helpers ---------------------------------------------------------------------------------------

    def _held_stock(self, hold_id: str) -> HeldStock:
        return next(hold for hold in self._s.holds if hold.hold_id == hold_id)

    def _missing(self) -> Counter[str]:
        return self._s.missing(self._order.lines)

    def _unit_price(self, sku: str) -> int:
        return next(line.unit_price for line in self._order.lines if line.sku == sku)

    def _unshipped_value(self) -> int:
        return sum(n * self._unit_price(sku) for sku, n in self._s.unshipped(self._order.lines).items())

    def _set_backordered_skus(self, *, clear: bool = False) -> None:
        """What the order waits for, indexed as ``BackorderedSkus`` when it comes to rest."""
        self._s.backordered_skus = [] if clear else sorted(self._missing())

    # -- coming to rest: what the Temporal UI and the retailer see -------------------------------------------

    def _come_to_rest(self) -> None:
        """The order is about to wait for someone else (the customer, the ERP, the carrier, the return window) or
        to end: index its statuses and release its queued status events now.

        Not on every step: the steps between two rests take seconds, while each search-attribute upsert and each
        publishing activity is a billed action on Temporal Cloud (issue 7). A status an engineer filters on is one
        the order stays in; an order stuck mid-step shows its pending activity and current details instead."""
        s = self._s
        indexed = workflow.info().typed_search_attributes
        wanted: list[tuple[SearchAttributeKey[Any], Any]] = [
            (ORDER_STATUS, s.status.value),
            (PAYMENT_STATUS, s.payment_status.value),
            (FULFILLMENT_STATUS, s.fulfillment_status.value),
            (BACKORDERED_SKUS, s.backordered_skus),
        ]
        # An attribute never set counts as empty: no upsert just to write an empty list.
        changes = [key.value_set(value) for key, value in wanted if (indexed.get(key) or type(value)()) != value]
        if changes:  # all in one command: one action however many attributes changed
            workflow.upsert_search_attributes(changes)
        self._release_status_events = True

    async def _rest_until(self, condition: Callable[[], bool], give_up_after: timedelta | None = None) -> None:
        """Wait for ``condition`` (``TimeoutError`` after ``give_up_after``), having come to rest first."""
        self._come_to_rest()
        await workflow.wait_condition(condition, timeout=give_up_after)

    def _label_reference(self) -> str:
        return self._s.label_attempts[-1] if self._s.label_attempts else ""

    def _current_shipment(self) -> ShipmentView:
        reference = self._label_reference()
        return next(x for x in self._s.shipments if x.reference == reference)

    def _labels_settled(self) -> bool:
        """Every label we set out to buy is bought (none is in flight)."""
        bought = {x.reference for x in self._s.shipments}
        return all(reference in bought for reference in self._s.label_attempts)

    def _address_applies(self) -> bool:
        """Some parcel can still go to a new address: one not labelled yet, or labelled but not scanned (its label
        can be voided: carriers refund unused labels)."""
        s = self._s
        if any(x.status in (FulfillmentStatus.OPEN, FulfillmentStatus.LABEL_CREATED) for x in s.shipments):
            return True
        labelled: Counter[str] = Counter()
        for shipment in s.shipments:
            if not shipment.captured and shipment.status is not FulfillmentStatus.CANCELED:
                labelled.update({line.sku: line.quantity for line in shipment.lines})
        return bool(s.unshipped(self._order.lines) - labelled)

    def _add_shipment(self, number: int, label: Label, lines: list[OrderLine], value: int, captured: bool) -> None:
        self._s.shipments.append(
            ShipmentView(
                shipment_no=number,
                reference=label.reference,
                status=FulfillmentStatus.LABEL_CREATED,
                carrier=label.carrier,
                tracking_code=label.tracking_code,
                tracking_url=label.tracking_url,
                lines=lines,
                value=value,
                captured=captured,
            )
        )
        self._s.parcels[label.reference] = Parcel(progress=_PROGRESS[FulfillmentStatus.LABEL_CREATED])
        self._update()
        early = [event for event in self._s.early_scans if event.shipment_reference == label.reference]
        self._s.early_scans = [event for event in self._s.early_scans if event not in early]
        for event in sorted(early, key=lambda event: event.occurred_at):
            self._apply_scan(event, _FULFILLMENT_BY_EVENT[event.kind])

    def _mark_shipment(self, reference: str, status: FulfillmentStatus) -> None:
        self._s.shipments = [
            x.model_copy(update={"status": status}) if x.reference == reference else x for x in self._s.shipments
        ]
        self._update()

    def _update(
        self,
        *,
        status: OrderStatus | None = None,
        payment: PaymentStatus | None = None,
        fulfillment: FulfillmentStatus | None = None,
    ) -> None:
        """The one way statuses change: keeps shipments and status events in step; the search attributes follow
        when the order next comes to rest (:meth:`_come_to_rest`)."""
        s = self._s
        if status is not None and status is not s.status:
            s.status = status
            self._record("order_status", "info", status.value)
        if payment is not None:
            s.payment_status = payment
        s.fulfillment_status = fulfillment or self._order_fulfillment()
        self._status_changed()

    def _order_fulfillment(self) -> FulfillmentStatus:
        """The order's fulfilment is its least advanced live parcel's (all delivered → delivered)."""
        live = [x for x in self._s.shipments if x.status is not FulfillmentStatus.CANCELED]
        if not live:
            return FulfillmentStatus.CANCELED if self._s.shipments else FulfillmentStatus.OPEN
        exception = [x for x in live if x.status is FulfillmentStatus.EXCEPTION]
        if exception:
            return FulfillmentStatus.EXCEPTION
        if self._s.unshipped(self._order.lines) and all(x.status in _PARCEL_ENDS for x in live):
            return FulfillmentStatus.OPEN  # a parcel has arrived, more is still to come
        return min(live, key=lambda x: _PROGRESS[x.status]).status

    def _status_changed(self, *, force: bool = False) -> None:
        s = self._s
        current = (s.status, s.payment_status, s.fulfillment_status)
        if current == self._last_status and not force:
            return
        self._last_status = current
        if not self._policy.publish_status_events:
            return
        s.status_seq += 1
        s.outbox.append(
            OrderStatusChanged(
                event_id=f"{self._order.order_id}.status.{s.status_seq}",
                order_id=self._order.order_id,
                seq=s.status_seq,
                status=s.status,
                payment_status=s.payment_status,
                fulfillment_status=s.fulfillment_status,
                occurred_at=workflow.now(),
            )
        )

    async def _publish_status_events(self) -> None:
        """Drain the outbox in order, one activity per rest of the order (the changes since the last one)."""
        outbox = self._s.outbox
        while True:
            await workflow.wait_condition(lambda: (bool(outbox) and self._release_status_events) or self._closing)
            if not outbox:
                return
            self._release_status_events = False
            batch = list(outbox)
            try:
                await workflow.execute_activity_method(
                    StatusEventActivities.publish,
                    PublishStatusEvents(order_id=self._order.order_id, events=batch),
                    summary=f"Publishing {len(batch)} status event(s) to the retailer",
                    **policies.PUBLISH,
                )
            except ActivityError as error:
                self._record("publish_status_events", "failed", error_text(error))
            del outbox[: len(batch)]

    async def _continue_as_new_if_long(self) -> None:
        """Weeks of waiting for stock, following a parcel or keeping the return window open grow the history:
        past the limit, carry the state into a fresh run. Only at a safe point: nothing in flight, handlers
        finished, queued status events delivered first, so the next run starts exactly where this one stopped."""
        info = workflow.info()
        limit = self._policy.history_event_limit
        if not (info.is_continue_as_new_suggested() or (limit and info.get_current_history_length() > limit)):
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._close()
        s = self._s
        self._record("continue_as_new", "info", f"run {s.runs + 2}, history {info.get_current_history_length()}")
        carried = s.model_copy(update={"runs": s.runs + 1})
        workflow.continue_as_new(
            OrderWorkflowInput(order=self._order, policy=self._policy, carried_over=carried.model_dump(mode="json"))
        )

    def _note_undone(self, what: str, detail: str) -> None:
        self._s.compensations.append(what)
        count_compensation(what)
        self._record(what.replace(" ", "_"), "compensated", detail)

    def _record(self, step: str, outcome: Outcome, detail: str | None = None) -> None:
        self._s.timeline.append(TimelineEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))

    def _money(self, amount: int) -> str:
        return format_amount(amount, self._order.currency)


def _changed(measure: Callable[[], object]) -> Callable[[], bool]:
    """A wait condition that becomes true once ``measure()`` differs from its value now."""
    before = measure()
    return lambda: measure() != before


def _address_refused(reason: str) -> ApplicationError:
    return ApplicationError(f"address not changed: {reason}", type=Refusal.ADDRESS_CHANGE)


def _return_refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=Refusal.RETURN)
