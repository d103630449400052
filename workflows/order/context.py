"""What every part of an order shares: the order, the retailer's policy, the one state model, the journal, the
statuses, the steps and the messages. Each part (payments, stock, shipping …) is a plain class built from this
context; none of them keeps a flag another part writes."""

import asyncio
from collections import Counter
from urllib.parse import quote

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.order import OrderLine
    from domain.order_view import ActionRequired, CanceledLine, FailureReason, OrderStatusChanged, OrderWorkflowInput
    from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
    from notifications.notice import CustomerNotice, DelayCause, NoticeKind, ParcelFate, TrackingLink
    from workflows.kit.journal import Journal
    from workflows.kit.notices import next_seq, send_notice
    from workflows.kit.steps import Steps
    from workflows.metrics import count_compensation
    from workflows.order import rules
    from workflows.order.state import OrderState

# A message the customer must get that the provider refused waits for the operator's retry (``customer not told``);
# before, it was only on the timeline.
UNTOLD_CUSTOMER_WAITS = "untold-customer-waits-for-retry"

# Which business rejection means what, by the step that raised it.
_REJECTION_REASON = {
    "authorize_payment": FailureReason.PAYMENT_DECLINED,
    "reserve_stock": FailureReason.OUT_OF_STOCK,
    "buy_label": FailureReason.LABEL_REJECTED,
    "capture_payment": FailureReason.CAPTURE_FAILED,
}


class OrderAborted(Exception):
    """What has not shipped cannot go on; carries the reason told to the customer."""

    def __init__(self, reason: FailureReason, short_skus: list[str] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.short_skus = short_skus or []


class Checkpoint:
    """Where the saga asks, between two steps, whether it may go on: the customer cancelled (until the money moves),
    or an address change could not relabel a parcel and the rest must be undone."""

    def __init__(self, state: OrderState) -> None:
        self._state = state
        self.abort_pending: OrderAborted | None = None
        """Set by an Update that found the saga cannot go on; the saga raises it at its next step."""
        self.unwound = False
        """The undo has run to its end and the customer was told: Updates waiting for the saga answer now."""

    def abort_at_next_step(self, abort: OrderAborted) -> None:
        self.abort_pending = abort

    def stop_if_asked(self) -> None:
        if self.abort_pending is not None:
            raise self.abort_pending
        s = self._state
        if s.cancel is not None and not (s.shipped_any or s.capturing):
            raise OrderAborted(FailureReason.CANCELED_BY_CUSTOMER)


class OrderContext:
    def __init__(self, input: OrderWorkflowInput) -> None:
        self.order = input.order
        self.policy = input.policy
        if input.carried_over is not None:
            self.state = OrderState.model_validate(input.carried_over)
        else:
            self.state = OrderState(address=input.order.shipping_address)
        self.journal = Journal(self.state.timeline, self.order.currency)
        self.checkpoint = Checkpoint(self.state)
        self.step = Steps(self.journal, _REJECTION_REASON, OrderAborted).run
        """One forward step; a failure that survived its retries aborts what has not shipped, with a reason."""
        self._last_status = (self.state.status, self.state.payment_status, self.state.fulfillment_status)
        self.telling: set[asyncio.Task[None]] = set()
        """Messages a signal handler started (it cannot wait for them): the run ends or continues only once each is
        out, so none is lost."""

    # -- quantities and values -------------------------------------------------------------------------------

    def missing(self) -> Counter[str]:
        """Units still owed that no hold covers: what the order waits for."""
        return self.state.missing(self.order.lines)

    def unshipped(self) -> Counter[str]:
        return self.state.unshipped(self.order.lines)

    def unshipped_value(self) -> int:
        return rules.value_of(self.unshipped(), self.order.lines)

    def priced(self, units: Counter[str]) -> list[OrderLine]:
        return rules.priced(units, self.order.lines)

    def unit_price(self, sku: str) -> int:
        return rules.unit_price(self.order.lines, sku)

    def set_backordered_skus(self, *, clear: bool = False) -> None:
        """What the order waits for, indexed as ``BackorderedSkus`` when it comes to rest."""
        self.state.backordered_skus = [] if clear else sorted(self.missing())

    def cancel_lines(self, units: Counter[str], reason: FailureReason) -> None:
        """Drop ``units`` from the order: never shipped, never charged."""
        for sku, quantity in sorted(units.items()):
            amount = quantity * self.unit_price(sku)
            self.state.canceled_lines.append(CanceledLine(sku=sku, quantity=quantity, amount=amount, reason=reason))
            self.journal.record("line_canceled", "compensated", f"{quantity} x {sku}: {reason.value}")

    def note_undone(self, what: str, detail: str) -> None:
        """A compensation applied: listed on the order, counted, and on the timeline."""
        self.state.compensations.append(what)
        count_compensation(what)
        self.journal.record(what.replace(" ", "_"), "compensated", detail)

    # -- statuses --------------------------------------------------------------------------------------------

    def update(
        self,
        *,
        status: OrderStatus | None = None,
        payment: PaymentStatus | None = None,
        fulfillment: FulfillmentStatus | None = None,
    ) -> None:
        """The one way statuses change: keeps shipments and status events in step; the search attributes follow
        when the order next comes to rest (``AtRest``)."""
        s = self.state
        if status is not None:
            status = rules.order_status(status, s.action_required)
        if status is not None and status is not s.status:
            s.status = status
            self.journal.record("order_status", "info", status.value)
        if payment is not None:
            s.payment_status = payment
        s.fulfillment_status = fulfillment or rules.order_fulfillment(s.shipments, bool(self.unshipped()))
        self.status_changed()

    def needs_person(self, reason: ActionRequired, detail: str) -> None:
        """Something the hub cannot finish on its own (a refused void, release or refund): the order goes to
        ``requires_action`` with ``reason`` (indexed when it next comes to rest) and stays there, whatever follows."""
        if reason not in self.state.action_required:
            self.state.action_required.append(reason)
        self.journal.record("action_required", "failed", f"{reason.value}: {detail}")
        self.update(status=OrderStatus.REQUIRES_ACTION)

    def status_changed(self, *, force: bool = False) -> None:
        """Queue a status event when a status moved (``force``: the first one); ``AtRest`` publishes them."""
        s = self.state
        current = (s.status, s.payment_status, s.fulfillment_status)
        if current == self._last_status and not force:
            return
        self._last_status = current
        if not self.policy.publish_status_events:
            return
        s.status_seq += 1
        s.outbox.append(
            OrderStatusChanged(
                event_id=f"{self.order.order_id}.status.{s.status_seq}",
                order_id=self.order.order_id,
                seq=s.status_seq,
                status=s.status,
                payment_status=s.payment_status,
                fulfillment_status=s.fulfillment_status,
                occurred_at=workflow.now(),
            )
        )

    def mark_shipment(self, reference: str, status: FulfillmentStatus) -> None:
        self.state.shipments = [
            x.model_copy(update={"status": status}) if x.reference == reference else x for x in self.state.shipments
        ]
        self.update()

    # -- telling the customer --------------------------------------------------------------------------------

    async def notify(
        self,
        kind: NoticeKind,
        *,
        short_skus: list[str] | None = None,
        canceled_skus: list[str] | None = None,
        tracking_of: list[str] | None = None,
        delay: DelayCause | None = None,
        parcel_fate: ParcelFate | None = None,
        sent_again: bool = False,
        refunded: int | None = None,
        delayed: int = 0,
    ) -> None:
        """Tell the customer about the order, once per state change; never something a cancellation made untrue.
        ``refunded``: what this message says was given back, when not everything the undo returned."""
        order, s = self.order, self.state
        notice = CustomerNotice(
            order_id=order.order_id,
            kind=kind,
            seq=next_seq(s, f"{order.order_id}.{kind.value}."),
            customer=order.customer,
            currency=order.currency,
            total=rules.notice_total(kind, tracking_of, s.shipments, order.total, s.canceled_lines),
            tracking=[
                TrackingLink(carrier=x.carrier or "", tracking_code=x.tracking_code, url=x.tracking_url)
                for x in s.shipments
                if x.tracking_code and tracking_of and x.reference in tracking_of
            ],
            reason=s.failure_reason,
            short_skus=short_skus or [],
            undone=s.undone,
            amount_returned=s.amount_returned if refunded is None else refunded,
            amount_delayed=delayed,
            backorder=s.backorder,
            canceled_skus=canceled_skus or [line.sku for line in s.canceled_lines],
            delay=delay,
            parcel_fate=parcel_fate,
            sent_again=sent_again,
            promised_by=order.promised_delivery_date,
            decision_url=self._decision_url() if kind is NoticeKind.ORDER_BACKORDERED else None,
        )
        if s.status is OrderStatus.CANCELED and kind in rules.SUPERSEDED_BY_CANCELLATION:
            self.journal.record(
                f"notify_{kind.value}", "skipped", "the order was cancelled meanwhile: this message would contradict it"
            )
            return
        told = await send_notice(self.journal, s, notice)
        if not told and kind in rules.MUST_BE_TOLD and workflow.patched(UNTOLD_CUSTOMER_WAITS):
            s.untold.append(notice)
            self.needs_person(ActionRequired.CUSTOMER_NOT_TOLD, f"the email provider refused {notice.notification_id}")

    def _decision_url(self) -> str | None:
        template = self.policy.backorder_decision_url
        return template.replace("{order_id}", quote(self.order.order_id, safe="")) if template else None
