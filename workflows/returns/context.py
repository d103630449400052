"""What every part of an RMA shares: its input, the retailer's after-sales policy, the one state model, the
journal, the steps, the messages and the status."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.keys import after_sales_key
    from domain.order_view import FailureReason
    from domain.returns import ReturnStatus, ReturnWorkflowInput
    from domain.status import FulfillmentStatus
    from notifications.notice import CustomerNotice, NoticeKind, NoticeLine, ParcelFate, TrackingLink
    from workflows.kit.journal import Journal
    from workflows.kit.notices import next_seq, send_notice
    from workflows.kit.steps import Steps
    from workflows.returns.state import ReturnState
    from workflows.search_attributes import ACTION_REASON, RETURN_STATUS

# Which business rejection means what, by the step that raised it.
_REJECTION_REASON = {
    "buy_return_label": FailureReason.LABEL_REJECTED,
    "reserve_replacement": FailureReason.OUT_OF_STOCK,
    "buy_replacement_label": FailureReason.LABEL_REJECTED,
}


LABEL_NOT_SENT = "label could not be sent"
"""``ActionReason`` of an RMA whose label message could not be delivered: resend it once the contact is right."""
REFUND_FAILED = "refund failed"
"""``ActionReason`` of an RMA whose refund the provider refused, in part or in full: refund the rest by hand."""
APPROVAL_OVERDUE = "claim approval overdue"
"""``ActionReason`` of a claim no operator decided by ``ReturnPolicy.approval_deadline``: decide it
(``POST /returns/{rma}/approval``)."""

REPLACEMENT_NOT_DELIVERED = "replacement not delivered"
"""``ActionReason`` of a claim whose replacement was not delivered in time: trace it with the carrier, reship or
refund (a new claim)."""

RETURN_PARCEL_LOST = "return parcel lost"
"""``ActionReason``: a scanned return parcel not received within ``return_transit_limit``. Trace it with the carrier;
record the receipt when it arrives (or to refund on the carrier's proof of loss)."""
RETURN_PARCEL_SENT_BACK = "return parcel sent back"
"""``ActionReason``: the carrier took the return parcel back to the customer. Contact them; record the receipt when
the items reach us."""

RETURNED_NOT_INSPECTED = "returned items not inspected"
"""``ActionReason``: the carrier delivered the return parcel to the warehouse ``return_transit_limit`` ago and no
receipt was recorded. Have it inspected and recorded (``POST /returns/{rma}/received``)."""

EXCHANGE_NOT_RETURNED = "exchanged item not returned"
"""``ActionReason`` of an exchange whose replacement shipped and whose item never came back
(``unreturned_exchange=flag``, or a charge refused): contact the customer; charge or write it off."""


class RmaAborted(Exception):
    """A step failed for a business reason (or the customer withdrew): undo, then end ``canceled``."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class RmaEnded(Exception):
    """The RMA has reached its final status and the customer has been told; nothing more to do."""


class ReturnContext:
    def __init__(self, input: ReturnWorkflowInput) -> None:
        self.input = input
        self.request = input.request
        self.policy = input.policy
        if input.carried_over is not None:
            self.state = ReturnState.model_validate(input.carried_over)
        else:
            self.state = ReturnState(payments=list(input.payments))
        self.journal = Journal(self.state.timeline, input.currency)
        self.step = Steps(self.journal, _REJECTION_REASON, RmaAborted).run
        """One forward step; a failure that survived its retries aborts the RMA with a reason."""

    def key(self, operation: str, n: int = 1) -> str:
        """The business key of one of the RMA's side effects (``A-1:rma.R-7.return-label:1``)."""
        return after_sales_key(self.input.order_id, self.request.rma_id, operation, n)

    def stop_if_cancel_requested(self) -> None:
        if self.state.cancel is not None:
            raise RmaAborted(FailureReason.CANCELED_BY_CUSTOMER)

    def to_bring_to_store(self) -> bool:
        """The customer is to bring the items to a store (a store drop-off not yet in a store's hands)."""
        s = self.state
        return s.store_drop_off and not self.request.received_in_store and s.receipt is None

    def update(self, status: ReturnStatus) -> None:
        """The one way the status changes: keeps the search attribute and the timeline in step.

        Indexed at every change, unlike the order's statuses (indexed when the order comes to rest): an RMA has few
        statuses, and the search-attribute upsert is a command in its history, so RMAs under way replay only if it
        stays where it is. Moving it to the rests is a change of history, for a ``workflow.patched`` of its own."""
        if status is self.state.status:
            return
        self.state.status = status
        workflow.upsert_search_attributes([RETURN_STATUS.value_set(status.value)])
        self.journal.record("return_status", "info", status.value)

    def requires_action(self, reason: str) -> None:
        """A person must act: the status says so, and ``ActionReason`` says why (never any customer data)."""
        self.state.action_reason = reason
        workflow.upsert_search_attributes([ACTION_REASON.value_set(reason)])
        self.journal.record("requires_action", "failed", reason)
        self.update(ReturnStatus.REQUIRES_ACTION)

    def action_resolved(self, status: ReturnStatus) -> None:
        """What needed a person is done: the RMA goes on as ``status``."""
        self.state.action_reason = None
        workflow.upsert_search_attributes([ACTION_REASON.value_unset()])
        self.update(status)

    async def notify(
        self,
        kind: NoticeKind,
        reason: FailureReason | None = None,
        delayed: int = 0,
        fate: ParcelFate | None = None,
        charged: int = 0,
    ) -> bool:
        """Tell the customer; True once delivered (and listed in ``messages_sent``)."""
        input, s = self.input, self.state
        order_id, rma_id = input.order_id, self.request.rma_id
        label, replacement = s.return_shipment, s.replacement_shipment
        notice = CustomerNotice(
            order_id=order_id,
            kind=kind,
            seq=next_seq(s, f"{order_id}.{kind.value}.{rma_id}."),
            customer=input.customer,
            currency=input.currency,
            total=input.value,
            tracking=[
                TrackingLink(
                    carrier=replacement.carrier or "",
                    tracking_code=replacement.tracking_code,
                    url=replacement.tracking_url,
                )
            ]
            if replacement is not None and replacement.tracking_code and s.replacement_shipped
            else [],
            reason=reason,
            undone=s.undone,
            amount_returned=s.refunded,
            amount_delayed=delayed,
            amount_charged=charged,
            parcel_fate=fate,
            rma_id=rma_id,
            after_sales_kind=self.request.kind,
            label_url=label.label_url if label is not None and label.status is not FulfillmentStatus.CANCELED else None,
            bring_to_store=self.to_bring_to_store(),
            lines=[NoticeLine(sku=r.sku, quantity=r.quantity, disposition=r.disposition) for r in s.returned]
            or [NoticeLine(sku=line.sku, quantity=line.quantity) for line in input.lines],
        )
        return await send_notice(self.journal, s, notice)
