"""``OrderWorkflow``: one durable owner of an order from payment to delivery.

authorize → reserve → (confirmed, tell the customer) → buy label → capture → commit stock → (shipped, tell the
customer) → follow the parcel until delivered. A business failure at any step before shipping undoes what was
done, newest first (void the label, release the hold, void or refund the payment), then tells the customer once
what happened and what was undone.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReserveStock
    from activities.notifications import NotificationActivities
    from activities.payment import AuthorizePayment, CapturePayment, PaymentActivities, ReversePayment
    from activities.shipping import BuyLabel, ShipmentRef, ShippingActivities
    from domain.currency import format_amount
    from domain.inventory import StockRequest
    from domain.keys import notification_id, shipment_reference
    from domain.order_view import (
        CancelRequest,
        FailureReason,
        OrderView,
        OrderWorkflowInput,
        Outcome,
        ShipmentView,
        TimelineEntry,
    )
    from domain.payment import Payment
    from domain.shipping import Label, Tracking, TrackingStatus
    from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
    from notifications.notice import CustomerNotice, NoticeKind, TrackingLink, Undone
    from workflows import policies
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
_FOLLOWING_ENDS = (
    FulfillmentStatus.DELIVERED,
    FulfillmentStatus.RETURNED_TO_SENDER,
    FulfillmentStatus.CANCELED,
)


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
        self._shipping = False  # past the point of no return: money is being taken, the parcel leaves

    # -- the saga -------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderView:
        saga = Compensations()
        try:
            await self._ship(saga)
        except OrderAborted as abort:
            await self._abort(saga, abort)
        except asyncio.CancelledError:
            # An operator cancelled the workflow itself (UI, CLI): undo and tell the customer, then end as
            # cancelled so the history says who stopped it.
            await self._abort(saga, OrderAborted(FailureReason.CANCELED_BY_MERCHANT))
            raise
        else:
            await self._follow_delivery()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

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
        self._payment_status = PaymentStatus.AUTHORIZED
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
        self._set_status(OrderStatus.CONFIRMED)
        await self._notify(NoticeKind.ORDER_CONFIRMED)
        self._stop_if_cancel_requested()

        saga.add("label", self._void_label)
        label = await self._step(
            "buy_label",
            ShippingActivities.buy_label,
            BuyLabel(order_id=order.order_id, to_address=order.shipping_address, to_name=order.customer.name),
            lambda lbl: f"{lbl.carrier} {lbl.service} {lbl.tracking_code}",
        )
        self._add_shipment(label)
        self._stop_if_cancel_requested()

        self._shipping = True
        captured = await self._step(
            "capture_payment",
            PaymentActivities.capture,
            CapturePayment(order_id=order.order_id, payment=payment, amount=order.total),
            lambda p: f"captured {format_amount(p.captured, p.currency)}",
        )
        self._payment_status = _captured_status(captured)
        await self._step("commit_stock", InventoryActivities.commit, HoldRef(order_id=order.order_id))
        saga.close()
        await self._notify(NoticeKind.ORDER_SHIPPED)

    async def _abort(self, saga: Compensations, abort: OrderAborted) -> None:
        self._failure_reason = abort.reason
        if abort.reason is FailureReason.PAYMENT_DECLINED:
            self._payment_status = PaymentStatus.FAILED
        failed: list[str] = []

        def on_failure(name: str, error: BaseException) -> None:
            failed.append(name)
            self._record(f"undo_{name}", "failed", str(error))

        await saga.unwind(on_failure)
        self._fulfillment_status = FulfillmentStatus.CANCELED
        # A compensation that could not finish (a label the carrier refuses to void) needs a person.
        self._set_status(OrderStatus.REQUIRES_ACTION if failed else OrderStatus.CANCELED)
        await self._notify(NoticeKind.ORDER_CANCELED, short_skus=abort.short_skus)

    # -- compensations: each a no-op when its step never happened --------------------------------------------

    async def _reverse_payment(self) -> None:
        reversal = await workflow.execute_activity_method(
            PaymentActivities.reverse, ReversePayment(order_id=self._order.order_id), **policies.COMPENSATION
        )
        if reversal.voided:
            self._payment_status = PaymentStatus.VOIDED
            self._undone.append(Undone.PAYMENT_VOIDED)
            self._note_undone("payment voided", format_amount(reversal.voided, self._order.currency))
        if reversal.refunded:
            self._payment_status = PaymentStatus.REFUNDED
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
            ShippingActivities.void_label, ShipmentRef(order_id=self._order.order_id), **policies.COMPENSATION
        )
        if void.voided:
            self._undone.append(Undone.LABEL_VOIDED)
            self._note_undone("label voided", void.reference)
            self._shipments = [s.model_copy(update={"status": FulfillmentStatus.CANCELED}) for s in self._shipments]

    # -- after shipping ----------------------------------------------------------------------------------------

    async def _follow_delivery(self) -> None:
        """Poll the carrier until the parcel is delivered (or comes back), or a person must look."""
        deadline = workflow.now() + self._policy.delivery_deadline
        while self._fulfillment_status not in _FOLLOWING_ENDS:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                self._record("follow_delivery", "failed", "no delivery scan before the deadline")
                self._set_status(OrderStatus.REQUIRES_ACTION)
                return
            await workflow.sleep(min(self._policy.tracking_poll_interval, remaining))
            try:
                tracking = await workflow.execute_activity_method(
                    ShippingActivities.track, ShipmentRef(order_id=self._order.order_id), **policies.TRACK
                )
            except ActivityError as error:
                self._record("track_shipment", "failed", _error_text(error))
                continue
            self._apply_tracking(tracking)
        if self._fulfillment_status is FulfillmentStatus.DELIVERED:
            self._set_status(OrderStatus.COMPLETED)
        else:
            self._set_status(OrderStatus.REQUIRES_ACTION)

    def _apply_tracking(self, tracking: Tracking) -> None:
        status = _FULFILLMENT_BY_TRACKING.get(tracking.status)
        if status is None or status is self._fulfillment_status:
            return
        self._fulfillment_status = status
        self._shipments = [s.model_copy(update={"status": status}) for s in self._shipments]
        outcome: Outcome = "failed" if status is FulfillmentStatus.EXCEPTION else "succeeded"
        self._record("tracking", outcome, f"{status.value} (carrier: {tracking.raw_status})")

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
        if self._cancel is not None:
            raise OrderAborted(FailureReason.CANCELED_BY_CUSTOMER)

    @workflow.query
    def view(self) -> OrderView:
        order = self._order
        return OrderView(
            order_id=order.order_id,
            customer_id=order.customer.id,
            currency=order.currency,
            total=order.total,
            status=self._status,
            payment_status=self._payment_status,
            fulfillment_status=self._fulfillment_status,
            shipments=self._shipments,
            timeline=self._timeline,
            failure_reason=self._failure_reason,
            compensations=self._compensations,
            messages_sent=self._messages_sent,
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
        notice = CustomerNotice(
            order_id=order.order_id,
            kind=kind,
            customer=order.customer,
            currency=order.currency,
            total=order.total,
            tracking=[
                TrackingLink(carrier=s.carrier or "", tracking_code=s.tracking_code, url=s.tracking_url)
                for s in self._shipments
                if s.tracking_code and kind is NoticeKind.ORDER_SHIPPED
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
        self._messages_sent.append(notification_id(order.order_id, kind.value))
        self._record(step, "succeeded")

    def _add_shipment(self, label: Label) -> None:
        self._shipments.append(
            ShipmentView(
                shipment_no=len(self._shipments) + 1,
                reference=shipment_reference(self._order.order_id, len(self._shipments) + 1),
                status=FulfillmentStatus.LABEL_CREATED,
                carrier=label.carrier,
                tracking_code=label.tracking_code,
                tracking_url=label.tracking_url,
            )
        )
        self._fulfillment_status = FulfillmentStatus.LABEL_CREATED

    def _set_status(self, status: OrderStatus) -> None:
        if status is self._status:
            return
        self._status = status
        # Upserted only on a real change: each upsert is a billed action and a history event.
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
        self._record("order_status", "info", status.value)

    def _note_undone(self, what: str, detail: str) -> None:
        self._compensations.append(what)
        self._record(what.replace(" ", "_"), "compensated", detail)

    def _record(self, step: str, outcome: Outcome, detail: str | None = None) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))


def _captured_status(payment: Payment) -> PaymentStatus:
    return PaymentStatus.CAPTURED if payment.captured >= payment.authorized else PaymentStatus.PARTIALLY_CAPTURED


def _error_text(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or error)
