"""``OrderWorkflow``: one durable owner of an order from payment to delivery.

authorize → reserve → (confirmed, tell the customer) → buy label → capture → commit stock → (shipped, tell the
customer) → follow the parcel until delivered. A business failure at any step before shipping undoes what was
done, newest first (void the label, release the hold, void or refund the payment), then tells the customer once
what happened and what was undone.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReserveStock
    from activities.notifications import NotificationActivities
    from activities.payment import AuthorizePayment, CapturePayment, PaymentActivities, ReversePayment
    from activities.shipping import BuyLabel, ShipmentRef, ShippingActivities
    from activities.status_events import PublishStatusEvents, StatusEventActivities
    from domain.currency import format_amount
    from domain.events import EventKind, UpstreamEvent
    from domain.inventory import StockRequest
    from domain.keys import notification_id, shipment_reference
    from domain.order_view import (
        AddressChange,
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
    from domain.shipping import Label, TrackingStatus
    from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
    from notifications.notice import CustomerNotice, NoticeKind, TrackingLink, Undone
    from workflows import policies
    from workflows.order_state import CarriedOver
    from workflows.saga import Compensations
    from workflows.search_attributes import ORDER_STATUS

R = TypeVar("R")

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
_FOLLOWING_ENDS = (
    FulfillmentStatus.DELIVERED,
    FulfillmentStatus.RETURNED_TO_SENDER,
    FulfillmentStatus.CANCELED,
)
# How far along a parcel is. Scans arrive unordered: one that is not further along than what we know is stale.
# An exception has no rank of its own: the next progress scan (even at the same stage) clears it.
_PROGRESS = {
    FulfillmentStatus.LABEL_CREATED: 1,
    FulfillmentStatus.IN_TRANSIT: 2,
    FulfillmentStatus.OUT_FOR_DELIVERY: 3,
    FulfillmentStatus.DELIVERED: 4,
    FulfillmentStatus.RETURNED_TO_SENDER: 4,
    FulfillmentStatus.CANCELED: 4,
}


class OrderAborted(Exception):
    """Internal: the order cannot go on; carries the reason told to the customer."""

    def __init__(self, reason: FailureReason, short_skus: list[str] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.short_skus = short_skus or []


@workflow.defn(name="OrderWorkflow")
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._order = input.order
        self._policy = input.policy
        self._status = OrderStatus.PENDING
        self._payment_status = PaymentStatus.NOT_PAID
        self._fulfillment_status = FulfillmentStatus.OPEN
        self._timeline: list[TimelineEntry] = []
        self._shipments: list[ShipmentView] = []
        self._failure_reason: FailureReason | None = None
        self._compensations: list[str] = []
        self._undone: list[Undone] = []
        self._amount_returned = 0
        self._messages_sent: list[str] = []
        self._cancel: CancelRequest | None = None
        self._address = input.order.shipping_address
        self._buying_label = False  # from here on the address is on a label (or about to be)
        self._label_no = 0  # the label bought or being bought; an address change after buying moves to the next
        self._relabeling = False  # an address change is voiding the label and buying another: capture waits
        self._aborted_by_update: OrderAborted | None = None
        self._shipping = False  # past the point of no return: money is being taken, the parcel leaves
        self._seen_events: set[str] = set()
        self._latest_scan_at: datetime | None = None
        self._progress = 0
        self._status_seq = 0
        self._last_status: tuple[OrderStatus, PaymentStatus, FulfillmentStatus] | None = None
        self._outbox: list[OrderStatusChanged] = []
        self._closing = False
        self._publisher: asyncio.Task[None] | None = None
        self._delivery_deadline: datetime | None = None
        self._runs = 0
        if input.carried_over is not None:
            self._resume(CarriedOver.model_validate(input.carried_over))
        self._status_changed()

    # -- the saga -------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderView:
        if self._policy.publish_status_events:
            self._publisher = asyncio.create_task(self._publish_status_events())
        publisher = self._publisher
        saga = Compensations()
        try:
            try:
                if not self._shipping:  # a run continued from an earlier one starts after shipping
                    await self._ship(saga)
            except OrderAborted as abort:
                await self._abort(saga, abort)
            else:
                await self._follow_delivery()
        except asyncio.CancelledError:
            # An operator cancelled the workflow itself (UI, CLI). Before shipping: undo and tell the customer.
            # After: the parcel is gone, so only stop following it and leave the order to a person.
            if self._shipping:
                self._record("follow_delivery", "failed", "stopped by an operator")
                self._update(status=OrderStatus.REQUIRES_ACTION)
            else:
                await self._abort(saga, OrderAborted(FailureReason.CANCELED_BY_MERCHANT))
            await self._close(publisher)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._close(publisher)
        return self.view().model_copy(update={"finished": True})

    async def _close(self, publisher: "asyncio.Task[None] | None") -> None:
        """Deliver the status events still queued before the workflow ends."""
        self._closing = True
        if publisher is not None:
            await publisher

    async def _ship(self, saga: Compensations) -> None:
        order = self._order
        saga.add("payment", self._reverse_payment)
        payment = await self._step(
            "authorize_payment",
            PaymentActivities.authorize,
            AuthorizePayment(
                order_id=order.order_id,
                amount=order.total,
                currency=order.currency,
                payment_method=order.payment_method,
            ),
            lambda p: f"authorized {format_amount(p.authorized, p.currency)}",
        )
        self._update(payment=PaymentStatus.AUTHORIZED)
        self._stop_if_cancel_requested()

        saga.add("stock", self._release_stock)
        hold = await self._step(
            "reserve_stock",
            InventoryActivities.reserve,
            ReserveStock(
                order_id=order.order_id,
                lines=[StockRequest(sku=line.sku, quantity=line.quantity) for line in order.lines],
            ),
            lambda h: f"held {h.units_held} units",
        )
        if hold.short_lines:
            short = ", ".join(f"{line.sku} (missing {line.short})" for line in hold.short_lines)
            self._record("reserve_stock", "failed", f"short: {short}")
            raise OrderAborted(FailureReason.OUT_OF_STOCK, [line.sku for line in hold.short_lines])
        self._stop_if_cancel_requested()  # never confirm an order the customer has already cancelled
        self._update(status=OrderStatus.CONFIRMED)
        await self._notify(NoticeKind.ORDER_CONFIRMED)
        self._stop_if_cancel_requested()

        saga.add("label", self._void_label)
        self._buying_label = True
        await self._buy_label()
        self._stop_if_cancel_requested()

        self._shipping = True
        captured = await self._step(
            "capture_payment",
            PaymentActivities.capture,
            CapturePayment(order_id=order.order_id, payment=payment, amount=order.total),
            lambda p: f"captured {format_amount(p.captured, p.currency)}",
        )
        self._update(payment=_captured_status(captured))
        await self._step("commit_stock", InventoryActivities.commit, HoldRef(order_id=order.order_id))
        saga.close()
        # A label being replaced has no tracking code to give yet: tell the customer once the new one exists.
        await workflow.wait_condition(lambda: not self._relabeling)
        await self._notify(NoticeKind.ORDER_SHIPPED)

    async def _abort(self, saga: Compensations, abort: OrderAborted) -> None:
        self._failure_reason = abort.reason
        if abort.reason is FailureReason.PAYMENT_DECLINED:
            self._update(payment=PaymentStatus.FAILED)
        failed: list[str] = []

        def on_failure(name: str, error: BaseException) -> None:
            failed.append(name)
            self._record(f"undo_{name}", "failed", str(error))

        await saga.unwind(on_failure)
        # A compensation that could not finish (a label the carrier refuses to void) needs a person.
        self._update(
            status=OrderStatus.REQUIRES_ACTION if failed else OrderStatus.CANCELED,
            fulfillment=FulfillmentStatus.CANCELED,
        )
        await self._notify(NoticeKind.ORDER_CANCELED, short_skus=abort.short_skus)

    # -- compensations: each a no-op when its step never happened --------------------------------------------

    async def _reverse_payment(self) -> None:
        reversal = await workflow.execute_activity_method(
            PaymentActivities.reverse, ReversePayment(order_id=self._order.order_id), **policies.COMPENSATION
        )
        if reversal.voided:
            self._update(payment=PaymentStatus.VOIDED)
            self._undone.append(Undone.PAYMENT_VOIDED)
            self._note_undone("payment voided", format_amount(reversal.voided, self._order.currency))
        if reversal.refunded:
            self._update(payment=PaymentStatus.REFUNDED)
            self._undone.append(Undone.PAYMENT_REFUNDED)
            self._note_undone("payment refunded", format_amount(reversal.refunded, self._order.currency))
        self._amount_returned = reversal.voided + reversal.refunded

    async def _release_stock(self) -> None:
        hold = await workflow.execute_activity_method(
            InventoryActivities.release, HoldRef(order_id=self._order.order_id), **policies.COMPENSATION
        )
        if hold is not None:
            self._undone.append(Undone.STOCK_RELEASED)
            self._note_undone("stock released", f"{hold.units_held} units")

    async def _void_label(self) -> None:
        void = await workflow.execute_activity_method(
            ShippingActivities.void_label,
            ShipmentRef(order_id=self._order.order_id, shipment_no=self._label_no),
            **policies.COMPENSATION,
        )
        if void.voided:
            self._undone.append(Undone.LABEL_VOIDED)
            self._note_undone("label voided", void.reference)
        self._update(fulfillment=FulfillmentStatus.CANCELED)

    # -- after shipping ----------------------------------------------------------------------------------------

    async def _follow_delivery(self) -> None:
        """Wait for the carrier's scans (webhooks) until the parcel is delivered or comes back; ask the carrier
        ourselves when none has arrived for a while; hand over to a person after the deadline."""
        if self._delivery_deadline is None:
            self._delivery_deadline = workflow.now() + self._policy.delivery_deadline
        deadline = self._delivery_deadline
        while self._fulfillment_status not in _FOLLOWING_ENDS:
            await self._continue_as_new_if_long()
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                self._record("follow_delivery", "failed", "no delivery scan before the deadline")
                self._update(status=OrderStatus.REQUIRES_ACTION)
                return
            try:
                await workflow.wait_condition(
                    lambda: self._fulfillment_status in _FOLLOWING_ENDS,
                    timeout=min(self._policy.tracking_poll_interval, remaining),
                )
            except TimeoutError:
                await self._poll_tracking()
        completed = self._fulfillment_status is FulfillmentStatus.DELIVERED
        self._update(status=OrderStatus.COMPLETED if completed else OrderStatus.REQUIRES_ACTION)

    async def _continue_as_new_if_long(self) -> None:
        """Weeks of following a parcel grow the history: past the limit, carry the state into a fresh run.

        Only here, after shipping, with nothing in flight: the saga is closed, handlers have finished and the
        queued status events are delivered first, so the next run starts exactly where this one stopped."""
        info = workflow.info()
        limit = self._policy.history_event_limit
        if not (info.is_continue_as_new_suggested() or (limit and info.get_current_history_length() > limit)):
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._close(self._publisher)
        self._record("continue_as_new", "info", f"run {self._runs + 2}, history {info.get_current_history_length()}")
        workflow.continue_as_new(
            OrderWorkflowInput(
                order=self._order, policy=self._policy, carried_over=self._carry_over().model_dump(mode="json")
            )
        )

    def _carry_over(self) -> CarriedOver:
        return CarriedOver(
            status=self._status,
            payment_status=self._payment_status,
            fulfillment_status=self._fulfillment_status,
            timeline=self._timeline,
            shipments=self._shipments,
            failure_reason=self._failure_reason,
            compensations=self._compensations,
            undone=self._undone,
            amount_returned=self._amount_returned,
            messages_sent=self._messages_sent,
            address=self._address,
            label_no=self._label_no,
            progress=self._progress,
            latest_scan_at=self._latest_scan_at,
            seen_events=sorted(self._seen_events),
            status_seq=self._status_seq,
            delivery_deadline=self._delivery_deadline,
            runs=self._runs + 1,
        )

    def _resume(self, state: CarriedOver) -> None:
        self._status = state.status
        self._payment_status = state.payment_status
        self._fulfillment_status = state.fulfillment_status
        self._timeline = list(state.timeline)
        self._shipments = list(state.shipments)
        self._failure_reason = state.failure_reason
        self._compensations = list(state.compensations)
        self._undone = list(state.undone)
        self._amount_returned = state.amount_returned
        self._messages_sent = list(state.messages_sent)
        self._address = state.address
        self._label_no = state.label_no
        self._progress = state.progress
        self._latest_scan_at = state.latest_scan_at
        self._seen_events = set(state.seen_events)
        self._status_seq = state.status_seq
        self._delivery_deadline = state.delivery_deadline
        self._runs = state.runs
        # Only an order past shipping continues as new; its status was already published.
        self._buying_label = self._shipping = True
        self._last_status = (self._status, self._payment_status, self._fulfillment_status)

    async def _poll_tracking(self) -> None:
        try:
            tracking = await workflow.execute_activity_method(
                ShippingActivities.track,
                ShipmentRef(order_id=self._order.order_id, shipment_no=self._label_no),
                **policies.TRACK,
            )
        except ActivityError as error:
            self._record("track_shipment", "failed", _error_text(error))
            return
        status = _FULFILLMENT_BY_TRACKING.get(tracking.status)
        if status is not None:
            self._advance_fulfillment(status, f"carrier: {tracking.raw_status}")

    def _advance_fulfillment(self, status: FulfillmentStatus, detail: str) -> None:
        current = self._fulfillment_status
        if not self._shipments or current in _FOLLOWING_ENDS or status is current:
            return
        if status is not FulfillmentStatus.EXCEPTION:
            known = _PROGRESS.get(current, 0) if current is not FulfillmentStatus.EXCEPTION else self._progress
            if _PROGRESS[status] < known or (_PROGRESS[status] == known and current is not FulfillmentStatus.EXCEPTION):
                self._record("tracking", "skipped", f"stale {status.value} ({detail})")
                return
            self._progress = _PROGRESS[status]
        self._update(fulfillment=status)
        outcome: Outcome = "failed" if status is FulfillmentStatus.EXCEPTION else "succeeded"
        self._record("tracking", outcome, f"{status.value} ({detail})")

    # -- what upstreams tell us ----------------------------------------------------------------------------

    @workflow.signal
    def record_event(self, event: UpstreamEvent) -> None:
        """A verified webhook from the ERP, the carrier or the payment provider. Deliveries are at least once
        and unordered: a repeated event id is dropped, a scan older than the newest applied one is stale."""
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        status = _FULFILLMENT_BY_EVENT.get(event.kind)
        if status is not None and event.shipment_reference in self._voided_references():
            self._record("tracking", "skipped", f"{status.value} for voided label {event.shipment_reference}")
            return
        if status is not None:
            if self._latest_scan_at is not None and event.occurred_at < self._latest_scan_at:
                self._record("tracking", "skipped", f"stale {status.value} (scanned {event.occurred_at.isoformat()})")
                return
            self._latest_scan_at = event.occurred_at
            self._advance_fulfillment(status, f"{event.source}: {event.raw_status or event.kind.value}")
        elif event.kind is EventKind.SHIPMENT_CONFIRMED:
            self._record("warehouse", "info", f"shipment confirmed {event.tracking_code or ''}".strip())
        elif event.kind is EventKind.REFUND_SUCCEEDED:
            self._record("refund", "succeeded", format_amount(event.amount or 0, self._order.currency))
        elif event.kind is EventKind.REFUND_FAILED:
            self._record("refund", "failed", event.reason)
        elif event.kind is EventKind.DISPUTE_OPENED:
            amount = format_amount(event.amount or 0, self._order.currency)
            self._record("dispute", "failed", f"opened: {event.reason or 'no reason given'}, {amount}")

    # -- customer decisions --------------------------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderView:
        """Cancel before shipping: everything done so far is undone and the customer told once."""
        self._cancel = request
        self._record("cancel_requested", "info", f"via {request.requested_via}: {request.reason}")
        await workflow.wait_condition(lambda: self._status.is_terminal or self._status is OrderStatus.REQUIRES_ACTION)
        return self.view()

    @cancel.validator
    def _cancel_allowed(self, request: CancelRequest) -> None:
        # Rejected here, the request never enters the history.
        if self._status.is_terminal:
            raise ApplicationError(f"order is already {self._status.value}", type="CancelRejected")
        if self._shipping:
            raise ApplicationError("order has shipped; start a return instead", type="CancelRejected")
        if self._cancel is not None:
            raise ApplicationError("cancellation already requested", type="CancelRejected")

    def _stop_if_cancel_requested(self) -> None:
        if self._aborted_by_update is not None:
            raise self._aborted_by_update
        if self._cancel is not None:
            raise OrderAborted(FailureReason.CANCELED_BY_CUSTOMER)

    @workflow.update
    async def change_shipping_address(self, change: AddressChange) -> OrderView:
        """Before the label: just the new address. After it, until the carrier's first scan: void the unused label
        and buy one for the new address, unless the carrier refuses to void it (then nothing changes, and we say
        why). The goods and the money are the same either way."""
        previous, self._address = self._address, change.shipping_address
        self._record("shipping_address", "info", f"changed via {change.requested_via}")
        if not self._buying_label:
            return self.view()
        self._relabeling = True
        try:
            await workflow.wait_condition(lambda: self._label_bought() or self._failure_reason is not None)
            if self._failure_reason is not None:
                raise _address_refused("the order is being cancelled")
            if not self._label_unused():  # the carrier scanned it while we waited
                self._address = previous
                raise _address_refused("the parcel is already with the carrier")
            try:
                await workflow.execute_activity_method(
                    ShippingActivities.void_label,
                    ShipmentRef(order_id=self._order.order_id, shipment_no=self._label_no),
                    **policies.STEP,
                )
            except ActivityError as error:
                self._address = previous
                self._record("void_label", "failed", _error_text(error))
                raise _address_refused("the carrier would not cancel the label already printed") from None
            self._cancel_shipment(self._label_no)
            try:
                await self._buy_label()
            except OrderAborted as abort:
                self._aborted_by_update = abort  # the saga sees it at its next step and compensates
                raise _address_refused("no label could be bought for the new address") from None
        finally:
            self._relabeling = False
        if self._told(NoticeKind.ORDER_SHIPPED):
            await self._notify(NoticeKind.ORDER_SHIPPED)  # the tracking the customer has is void: send the new one
        return self.view()

    @change_shipping_address.validator
    def _address_change_allowed(self, change: AddressChange) -> None:
        if self._status.is_terminal:
            raise ApplicationError(f"order is already {self._status.value}", type="AddressChangeRejected")
        if not self._label_unused():
            raise _address_refused("the parcel is already with the carrier")
        if self._relabeling:
            raise _address_refused("another address change is being applied")

    @workflow.query
    def view(self) -> OrderView:
        return initial_view(self._order).model_copy(
            update={
                "status": self._status,
                "payment_status": self._payment_status,
                "fulfillment_status": self._fulfillment_status,
                "shipments": self._shipments,
                "timeline": self._timeline,
                "failure_reason": self._failure_reason,
                "compensations": self._compensations,
                "messages_sent": self._messages_sent,
            }
        )

    # -- helpers ---------------------------------------------------------------------------------------------

    async def _step(
        self,
        name: str,
        activity: Callable[[Any, Any], Awaitable[R]],
        arg: Any,
        describe: Callable[[R], str] | None = None,
    ) -> R:
        """Run one forward step; a failure that survived its retries aborts the order with a reason."""
        try:
            result: R = await workflow.execute_activity_method(activity, arg, **policies.STEP)
        except ActivityError as error:
            self._record(name, "failed", _error_text(error))
            self._fail(name, error)
        self._record(name, "succeeded", describe(result) if describe else None)
        return result

    def _fail(self, step: str, error: ActivityError) -> NoReturn:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "BusinessRejection":
            raise OrderAborted(_REJECTION_REASON.get(step, FailureReason.SYSTEM_ERROR)) from error
        # Configuration errors, exhausted retries, timeouts: not the customer's doing, still an ending.
        raise OrderAborted(FailureReason.SYSTEM_ERROR) from error

    async def _notify(self, kind: NoticeKind, short_skus: list[str] | None = None) -> None:
        order = self._order
        seq = 1 + sum(f".{kind.value}." in sent for sent in self._messages_sent)
        notice = CustomerNotice(
            order_id=order.order_id,
            kind=kind,
            seq=seq,
            customer=order.customer,
            currency=order.currency,
            total=order.total,
            tracking=[
                TrackingLink(carrier=s.carrier or "", tracking_code=s.tracking_code, url=s.tracking_url)
                for s in self._shipments
                if s.tracking_code and s.status is not FulfillmentStatus.CANCELED and kind is NoticeKind.ORDER_SHIPPED
            ],
            reason=self._failure_reason,
            short_skus=short_skus or [],
            undone=self._undone,
            amount_returned=self._amount_returned,
        )
        step = f"notify_{kind.value}"
        try:
            await workflow.execute_activity_method(NotificationActivities.notify, notice, **policies.NOTIFY)
        except ActivityError as error:
            # A message that cannot be delivered does not undo the order; it is visible for follow-up.
            self._record(step, "failed", _error_text(error))
            return
        self._messages_sent.append(notification_id(order.order_id, kind.value, seq))
        self._record(step, "succeeded")

    async def _buy_label(self) -> None:
        self._label_no += 1
        order = self._order
        label = await self._step(
            "buy_label",
            ShippingActivities.buy_label,
            BuyLabel(
                order_id=order.order_id,
                shipment_no=self._label_no,
                to_address=self._address,
                to_name=order.customer.name,
            ),
            lambda lbl: f"{lbl.carrier} {lbl.service} {lbl.tracking_code}",
        )
        self._add_shipment(label)

    def _label_bought(self) -> bool:
        return any(s.shipment_no == self._label_no for s in self._shipments)

    def _voided_references(self) -> set[str]:
        return {s.reference for s in self._shipments if s.status is FulfillmentStatus.CANCELED}

    def _label_unused(self) -> bool:
        """No carrier scan yet: the label can still be voided (carriers refund unused labels)."""
        return self._fulfillment_status in (FulfillmentStatus.OPEN, FulfillmentStatus.LABEL_CREATED)

    def _told(self, kind: NoticeKind) -> bool:
        return any(f".{kind.value}." in sent for sent in self._messages_sent)

    def _cancel_shipment(self, shipment_no: int) -> None:
        self._shipments = [
            s.model_copy(update={"status": FulfillmentStatus.CANCELED}) if s.shipment_no == shipment_no else s
            for s in self._shipments
        ]
        self._record("label_voided", "compensated", f"shipment {shipment_no}: address changed")

    def _add_shipment(self, label: Label) -> None:
        self._shipments.append(
            ShipmentView(
                shipment_no=self._label_no,
                reference=shipment_reference(self._order.order_id, self._label_no),
                status=FulfillmentStatus.LABEL_CREATED,
                carrier=label.carrier,
                tracking_code=label.tracking_code,
                tracking_url=label.tracking_url,
            )
        )
        self._progress = _PROGRESS[FulfillmentStatus.LABEL_CREATED]
        self._update(fulfillment=FulfillmentStatus.LABEL_CREATED)

    def _update(
        self,
        *,
        status: OrderStatus | None = None,
        payment: PaymentStatus | None = None,
        fulfillment: FulfillmentStatus | None = None,
    ) -> None:
        """The one way statuses change: keeps search attributes, shipments and status events in step."""
        if status is not None and status is not self._status:
            self._status = status
            # Upserted only on a real change: each upsert is a billed action and a history event.
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
            self._record("order_status", "info", status.value)
        if payment is not None:
            self._payment_status = payment
        if fulfillment is not None:
            self._fulfillment_status = fulfillment
            self._shipments = [
                s if s.status is FulfillmentStatus.CANCELED else s.model_copy(update={"status": fulfillment})
                for s in self._shipments
            ]
        self._status_changed()

    def _status_changed(self) -> None:
        current = (self._status, self._payment_status, self._fulfillment_status)
        if current == self._last_status:
            return
        self._last_status = current
        if not self._policy.publish_status_events:
            return
        self._status_seq += 1
        self._outbox.append(
            OrderStatusChanged(
                event_id=f"{self._order.order_id}.status.{self._status_seq}",
                order_id=self._order.order_id,
                seq=self._status_seq,
                status=self._status,
                payment_status=self._payment_status,
                fulfillment_status=self._fulfillment_status,
                occurred_at=workflow.now(),
            )
        )

    async def _publish_status_events(self) -> None:
        """Drain the outbox in order, one activity per batch of changes that accumulated meanwhile."""
        while True:
            await workflow.wait_condition(lambda: bool(self._outbox) or self._closing)
            if not self._outbox:
                return
            batch = list(self._outbox)
            try:
                await workflow.execute_activity_method(
                    StatusEventActivities.publish,
                    PublishStatusEvents(order_id=self._order.order_id, events=batch),
                    **policies.PUBLISH,
                )
            except ActivityError as error:
                self._record("publish_status_events", "failed", _error_text(error))
            del self._outbox[: len(batch)]

    def _note_undone(self, what: str, detail: str) -> None:
        self._compensations.append(what)
        self._record(what.replace(" ", "_"), "compensated", detail)

    def _record(self, step: str, outcome: Outcome, detail: str | None = None) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))


def _address_refused(reason: str) -> ApplicationError:
    return ApplicationError(f"address not changed: {reason}", type="AddressChangeRejected")


def _captured_status(payment: Payment) -> PaymentStatus:
    return PaymentStatus.CAPTURED if payment.captured >= payment.authorized else PaymentStatus.PARTIALLY_CAPTURED


def _error_text(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or error)
