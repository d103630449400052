"""In-memory stand-ins for the ports, for workflow tests that need no network. They keep the contract's
semantics (idempotent by key, compensations no-ops when nothing happened) and count every side effect."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from connectors.errors import BusinessRejection, ConfigurationError, IndeterminateError, TransientError
from domain.inventory import Hold, HoldLine, HoldStatus, ReturnedStock, ReturnReceiptRecord, StockRequest
from domain.keys import order_id_of
from domain.notification import Delivery, OutboundMessage
from domain.order_view import OrderStatusChanged
from domain.payment import Payment, ProviderPaymentState
from domain.shipping import Label, LabelRequest, LabelVoid, Tracking, TrackingStatus
from sandbox.ledger import Ledger


class Outcome(StrEnum):
    """How one call to a fake upstream answers, when a test scripts it (``Effects.script``)."""

    OK = "ok"
    TRANSIENT = "transient"
    """Fails before changing anything: retried."""
    REFUSE = "refuse"
    """A business rejection (code ``refused``): not retried."""
    TIMEOUT_AFTER_APPLY = "timeout_after_apply"
    """The change is applied, then the answer is lost (``IndeterminateError``): retried under the same key."""


@dataclass
class Effects:
    """Side effects applied, by kind, and the keys seen: a repeat must never count twice. ``ledger`` records them
    per order in the sandbox ledger's shape, so one checker (``hub.dev.invariants``) reads both."""

    counts: Counter[str] = field(default_factory=Counter)
    flaky: dict[str, int] = field(default_factory=dict)
    """operation → how many more calls fail transiently before it works."""
    reject: dict[str, str] = field(default_factory=dict)
    """operation → business rejection code."""
    script: dict[tuple[str, str], list[Outcome]] = field(default_factory=dict)
    """(order id, operation) → how its next calls answer, in order (then ``ok``): many orders, one fake."""
    ledger: Ledger = field(default_factory=Ledger)

    def gate(self, operation: str, upstream: str, order_id: str | None = None) -> bool:
        """Raise what this call must raise before applying anything; True when it must apply and then lose its
        answer (:meth:`answer` raises then)."""
        outcome = Outcome.OK
        scripted = self.script.get((order_id, operation)) if order_id else None
        if scripted:
            outcome = scripted.pop(0)
        if self.flaky.get(operation, 0) > 0 or outcome is Outcome.TRANSIENT:
            if outcome is not Outcome.TRANSIENT:
                self.flaky[operation] -= 1
            raise TransientError(f"{operation} flaked", upstream=upstream)
        if operation in self.reject or outcome is Outcome.REFUSE:
            code = self.reject.get(operation, "refused")
            raise BusinessRejection(f"{operation} rejected", upstream=upstream, code=code)
        return outcome is Outcome.TIMEOUT_AFTER_APPLY

    @staticmethod
    def answer(lost: bool, operation: str, upstream: str) -> None:
        """After applying: raise the timeout a scripted ``timeout_after_apply`` asked for."""
        if lost:
            raise IndeterminateError(f"{operation} timed out after applying", upstream=upstream)


@dataclass(frozen=True)
class FailedRefund:
    """What the provider's ``refund.failed`` webhook carries: the amount, the payment, the refund's own id and the
    hub's idempotency key it was made under (its metadata)."""

    amount: int
    payment_id: str
    refund_id: str
    hub_reference: str


class FakePayments:
    def __init__(self, effects: Effects) -> None:
        self.effects = effects
        self.by_key: dict[str, Payment] = {}
        self.refuse_refunds: set[str] = set()
        """References of payments whose refunds the provider refuses (a disputed charge, a closed card)."""
        self.refunds: dict[str, int] = {}
        """idempotency key → amount: a refund repeated under its key is not paid twice."""

    async def authorize(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> Payment:
        lost = self.effects.gate("authorize", "payment", order_id)
        if idempotency_key not in self.by_key:
            self.effects.counts["authorize"] += 1
            self.by_key[idempotency_key] = Payment(
                payment_id=f"pi_{order_id}",
                order_id=order_id,
                reference=idempotency_key,
                state=ProviderPaymentState.AUTHORIZED,
                currency=currency,
                authorized=amount,
            )
            self._book(order_id, "authorize", amount, idempotency_key)
        self.effects.answer(lost, "authorize", "payment")
        return self.by_key[idempotency_key]

    def _book(self, order_id: str, effect: str, amount: int, key: str) -> None:
        self.effects.ledger.record(order_id, "payment", effect, amount=amount, idempotency_key=key)

    def _update(self, payment: Payment, **changes: object) -> Payment:
        updated = self.by_key[payment.reference].model_copy(update=changes)
        self.by_key[payment.reference] = updated
        return updated

    async def capture(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        lost = self.effects.gate("capture", "payment", payment.order_id)
        current = self.by_key[payment.reference]
        if current.state is ProviderPaymentState.CAPTURED:
            self.effects.answer(lost, "capture", "payment")
            return current
        self.effects.counts["capture"] += 1
        captured = min(amount, current.authorized)
        self._book(payment.order_id, "capture", captured, idempotency_key)
        if current.authorized > captured:  # as the provider does, the uncaptured rest is released
            self._book(payment.order_id, "void", current.authorized - captured, idempotency_key)
        updated = self._update(payment, state=ProviderPaymentState.CAPTURED, captured=captured)
        self.effects.answer(lost, "capture", "payment")
        return updated

    async def void(self, payment: Payment, *, idempotency_key: str) -> Payment:
        lost = self.effects.gate("void", "payment", payment.order_id)
        current = self.by_key[payment.reference]
        if current.state is not ProviderPaymentState.VOIDED:
            self.effects.counts["void"] += 1
        if current.state is ProviderPaymentState.AUTHORIZED:  # what a capture took stays taken
            self._book(payment.order_id, "void", current.authorized, idempotency_key)
        current = self._update(payment, state=ProviderPaymentState.VOIDED)
        self.effects.answer(lost, "void", "payment")
        return current

    async def refund(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        lost = self.effects.gate("refund", "payment", payment.order_id)
        if payment.reference in self.refuse_refunds:
            raise BusinessRejection("refund refused", upstream="payment", code="charge_disputed")
        current = self.by_key[payment.reference]
        if idempotency_key not in self.refunds:
            if amount > current.captured - current.refunded:
                raise BusinessRejection("refund above what is left", upstream="payment", code="amount_too_large")
            self.effects.counts["refund"] += 1
            self.refunds[idempotency_key] = amount
            self._book(payment.order_id, "refund", amount, idempotency_key)
            # The caller's copy may count a refund the provider made outside the hub (a dashboard refund, known here
            # only by its webhook): the larger of the two is what was refunded before.
            current = self._update(payment, refunded=max(current.refunded, payment.refunded) + amount)
        self.effects.answer(lost, "refund", "payment")
        return current

    def fail_last_refund(self, order_id: str) -> "FailedRefund | None":
        """The provider's ``refund.failed``: the order's last refund is given back to the merchant (its books count
        it no more); what its webhook says of it, or ``None`` when nothing was refunded."""
        keys = [key for key in self.refunds if key.startswith(f"{order_id}:") and not key.endswith(".failed")]
        failed = [key for key in keys if f"{key}.failed" in self.refunds]
        last = next((key for key in reversed(keys) if key not in failed), None)
        if last is None:
            return None
        amount = self.refunds[last]
        self.refunds[f"{last}.failed"] = -amount
        payment = next(p for p in self.by_key.values() if p.order_id == order_id and p.refunded >= amount)
        self._update(payment, refunded=payment.refunded - amount)
        self._book(order_id, "refund", -amount, f"{last}.failed")
        return FailedRefund(amount=amount, payment_id=payment.payment_id, refund_id=f"re_{last}", hub_reference=last)

    async def find_by_order(self, order_id: str, *, reference: str) -> Payment | None:
        return self.by_key.get(reference)

    async def order_of(self, payment_id: str) -> str | None:
        return next((p.order_id for p in self.by_key.values() if p.payment_id == payment_id), None)


class FakeInventory:
    def __init__(self, effects: Effects, short: dict[str, int] | None = None) -> None:
        self.effects = effects
        self.short = short or {}
        self.restock: dict[str, date] = {}
        self.locations: dict[str, str] = {}
        """SKU → the warehouse that holds it (none: the one default warehouse)."""
        """SKU → the restock date the ERP announces for what it cannot hold."""
        self.holds: dict[str, Hold] = {}
        self.refused_commits: set[str] = set()
        """Hold ids whose commit the ERP refuses (``409 hold_released``), where ``Effects.reject`` would refuse all."""
        self.receipts: dict[str, ReturnReceiptRecord] = {}

    async def reserve(self, *, hold_id: str, order_id: str, lines: list[StockRequest]) -> Hold:
        lost = self.effects.gate("reserve", "erp", order_id)
        if hold_id not in self.holds:
            self.effects.counts["reserve"] += 1
            held = [
                HoldLine(
                    sku=r.sku,
                    requested=r.quantity,
                    held=r.quantity - min(r.quantity, self.short.get(r.sku, 0)),
                    short=min(r.quantity, self.short.get(r.sku, 0)),
                    restock_date=self.restock.get(r.sku) if self.short.get(r.sku) else None,
                    location=self.locations.get(r.sku),
                )
                for r in lines
            ]
            self.holds[hold_id] = Hold(hold_id=hold_id, order_id=order_id, status=HoldStatus.HELD, lines=held)
            self._book(hold_id, "reserve")
        self.effects.answer(lost, "reserve", "erp")
        return self.holds[hold_id]

    def _book(self, hold_id: str, effect: str) -> None:
        units = sum(line.held for line in self.holds[hold_id].lines)
        self.effects.ledger.record(order_id_of(hold_id), "erp", effect, units=units, idempotency_key=hold_id)

    async def get_hold(self, hold_id: str) -> Hold | None:
        return self.holds.get(hold_id)

    async def release(self, hold_id: str) -> Hold | None:
        lost = self.effects.gate("release", "erp", order_id_of(hold_id))
        hold = self.holds.get(hold_id)
        if hold is None:
            return None
        if hold.status is HoldStatus.HELD:
            self.effects.counts["release"] += 1
            self.holds[hold_id] = hold.model_copy(update={"status": HoldStatus.RELEASED})
            self._book(hold_id, "release")
        self.effects.answer(lost, "release", "erp")
        return self.holds[hold_id]

    async def commit(self, hold_id: str) -> Hold:
        lost = self.effects.gate("commit", "erp", order_id_of(hold_id))
        if hold_id in self.refused_commits:
            raise BusinessRejection(f"commit of {hold_id} refused", upstream="erp", code="hold_released")
        hold = self.holds[hold_id]
        if hold.status is HoldStatus.HELD:
            self.effects.counts["commit"] += 1
            self.holds[hold_id] = hold.model_copy(update={"status": HoldStatus.COMMITTED})
            self._book(hold_id, "commit")
        self.effects.answer(lost, "commit", "erp")
        return self.holds[hold_id]

    async def receive_return(
        self, *, receipt_id: str, order_id: str, lines: list[ReturnedStock]
    ) -> ReturnReceiptRecord:
        lost = self.effects.gate("return.receive", "erp", order_id)
        existing = self.receipts.get(receipt_id)
        if existing is None:
            self.effects.counts["return.receive"] += 1
            self.receipts[receipt_id] = ReturnReceiptRecord(
                receipt_id=receipt_id, order_id=order_id, lines=list(lines), received_at=datetime.now(UTC)
            )
            units = sum(line.quantity for line in lines)
            self.effects.ledger.record(order_id, "erp", "return.receive", units=units, idempotency_key=receipt_id)
        elif existing.order_id != order_id or sorted(existing.lines, key=repr) != sorted(lines, key=repr):
            raise BusinessRejection("return receipt exists with other lines", upstream="erp", code="receipt_mismatch")
        self.effects.answer(lost, "return.receive", "erp")
        return self.receipts[receipt_id]


class FakeCarrier:
    def __init__(self, effects: Effects, deliver_after_polls: int = 2) -> None:
        self.effects = effects
        self.labels: dict[str, Label] = {}
        self.requests: dict[str, LabelRequest] = {}
        self.voided: set[str] = set()
        self.polls: Counter[str] = Counter()
        self.deliver_after_polls = deliver_after_polls
        self.tracking: dict[str, list[TrackingStatus]] = {}
        """reference → what the next polls answer, in order (the last one for ever after)."""

    async def buy_label(self, request: LabelRequest) -> Label:
        lost = self.effects.gate("buy_label", "carrier", request.order_id)
        if request.reference not in self.labels:
            self.effects.counts["buy_label"] += 1
            self.requests[request.reference] = request
            self.labels[request.reference] = Label(
                reference=request.reference,
                shipment_id=f"shp_{len(self.labels)}",
                carrier="USPS",
                service="Priority",
                tracking_code=f"TRK{len(self.labels)}",
                label_url="http://label",
                cost="7.50",
            )
            self._book(request.reference, "buy")
        self.effects.answer(lost, "buy_label", "carrier")
        return self.labels[request.reference]

    def _book(self, reference: str, action: str) -> None:
        kind = "return_label" if ":rma." in reference and ".return-label:" in reference else "label"
        self.effects.ledger.record(order_id_of(reference), "carrier", f"{kind}.{action}", idempotency_key=reference)

    async def void_label(self, reference: str) -> LabelVoid:
        if reference not in self.labels:
            return LabelVoid(reference=reference, voided=False)
        lost = self.effects.gate("void_label", "carrier", order_id_of(reference))
        if reference not in self.voided:
            self.effects.counts["void_label"] += 1
            self.voided.add(reference)
            self._book(reference, "void")
        self.effects.answer(lost, "void_label", "carrier")
        return LabelVoid(reference=reference, voided=True)

    async def track(self, reference: str) -> Tracking:
        self.effects.gate("track", "carrier", order_id_of(reference))
        self.polls[reference] += 1
        scripted = self.tracking.get(reference)
        if scripted:
            status = scripted.pop(0) if len(scripted) > 1 else scripted[0]
        else:
            delivered = self.polls[reference] >= self.deliver_after_polls
            status = TrackingStatus.DELIVERED if delivered else TrackingStatus.IN_TRANSIT
        return Tracking(reference=reference, tracking_code="TRK", status=status, raw_status=status.value.lower())

    async def reference_of(self, shipment_id: str) -> str | None:
        return next((label.reference for label in self.labels.values() if label.shipment_id == shipment_id), None)


class FakeNotifier:
    def __init__(self, effects: Effects) -> None:
        self.effects = effects
        self.sent: dict[str, OutboundMessage] = {}
        self.conflicting: set[str] = set()

    async def send(self, message: OutboundMessage) -> Delivery:
        lost = self.effects.gate("send", "email", message.order_id)
        known = self.sent.get(message.notification_id)
        if known is None:
            self.effects.ledger.record(message.order_id, "email", "send", idempotency_key=message.notification_id)
            self.sent[message.notification_id] = message
        elif (known.subject, known.text) != (message.subject, message.text):
            # The customer's mailbox drops a repeat by its id: the first one is what they read.
            self.conflicting.add(message.notification_id)
        self.effects.answer(lost, "send", "email")
        return Delivery(notification_id=message.notification_id, channel="email", accepted=True)

    def mail(self, order_id: str) -> list[dict[str, object]]:
        """The messages ``order_id`` caused, as the sandbox's mail sink lists them."""
        return [
            {
                "message_id": f"<{m.notification_id}@fake>",
                "body": m.text,
                "conflicting": m.notification_id in self.conflicting,
            }
            for m in self.sent.values()
            if m.order_id == order_id
        ]


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[OrderStatusChanged] = []
        self.down = False
        """While set, every batch is refused as a misconfigured subscriber refuses it (not worth retrying)."""
        self.unreachable = False
        """With ``down``: the subscriber does not answer (worth retrying) instead."""
        self.refused = 0

    async def publish(self, events: list[OrderStatusChanged]) -> None:
        if self.down:
            self.refused += 1
            if self.unreachable:
                raise TransientError("subscriber unreachable", upstream="status_events")
            raise ConfigurationError("subscriber answered 410", upstream="status_events")
        self.events.extend(events)
