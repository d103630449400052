"""In-memory stand-ins for the ports, for workflow tests that need no network. They keep the contract's
semantics (idempotent by key, compensations no-ops when nothing happened) and count every side effect."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from connectors.errors import BusinessRejection, ConfigurationError, TransientError
from domain.inventory import Hold, HoldLine, HoldStatus, ReturnedStock, ReturnReceiptRecord, StockRequest
from domain.notification import Delivery, OutboundMessage
from domain.order_view import OrderStatusChanged
from domain.payment import Payment, ProviderPaymentState
from domain.shipping import Label, LabelRequest, LabelVoid, Tracking, TrackingStatus


@dataclass
class Effects:
    """Side effects applied, by kind, and the keys seen: a repeat must never count twice."""

    counts: Counter[str] = field(default_factory=Counter)
    flaky: dict[str, int] = field(default_factory=dict)
    """operation → how many more calls fail transiently before it works."""
    reject: dict[str, str] = field(default_factory=dict)
    """operation → business rejection code."""

    def gate(self, operation: str, upstream: str) -> None:
        if self.flaky.get(operation, 0) > 0:
            self.flaky[operation] -= 1
            raise TransientError(f"{operation} flaked", upstream=upstream)
        if operation in self.reject:
            raise BusinessRejection(f"{operation} rejected", upstream=upstream, code=self.reject[operation])


class FakePayments:
    def __init__(self, effects: Effects) -> None:
        self.effects = effects
        self.by_key: dict[str, Payment] = {}
        self.refuse_refunds: set[str] = set()
        """References of payments whose refunds the provider refuses (a disputed charge, a closed card)."""

    async def authorize(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> Payment:
        self.effects.gate("authorize", "payment")
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
        return self.by_key[idempotency_key]

    def _update(self, payment: Payment, **changes: object) -> Payment:
        updated = self.by_key[payment.reference].model_copy(update=changes)
        self.by_key[payment.reference] = updated
        return updated

    async def capture(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        self.effects.gate("capture", "payment")
        current = self.by_key[payment.reference]
        if current.state is ProviderPaymentState.CAPTURED:
            return current
        self.effects.counts["capture"] += 1
        return self._update(payment, state=ProviderPaymentState.CAPTURED, captured=amount)

    async def void(self, payment: Payment, *, idempotency_key: str) -> Payment:
        self.effects.gate("void", "payment")
        current = self.by_key[payment.reference]
        if current.state is not ProviderPaymentState.VOIDED:
            self.effects.counts["void"] += 1
        return self._update(payment, state=ProviderPaymentState.VOIDED)

    async def refund(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        self.effects.gate("refund", "payment")
        if payment.reference in self.refuse_refunds:
            raise BusinessRejection("refund refused", upstream="payment", code="charge_disputed")
        self.effects.counts["refund"] += 1
        return self._update(payment, refunded=payment.refunded + amount)

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
        self.effects.gate("reserve", "erp")
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
        return self.holds[hold_id]

    async def get_hold(self, hold_id: str) -> Hold | None:
        return self.holds.get(hold_id)

    async def release(self, hold_id: str) -> Hold | None:
        self.effects.gate("release", "erp")
        hold = self.holds.get(hold_id)
        if hold is None:
            return None
        if hold.status is HoldStatus.HELD:
            self.effects.counts["release"] += 1
            self.holds[hold_id] = hold.model_copy(update={"status": HoldStatus.RELEASED})
        return self.holds[hold_id]

    async def commit(self, hold_id: str) -> Hold:
        self.effects.gate("commit", "erp")
        if hold_id in self.refused_commits:
            raise BusinessRejection(f"commit of {hold_id} refused", upstream="erp", code="hold_released")
        hold = self.holds[hold_id]
        if hold.status is HoldStatus.HELD:
            self.effects.counts["commit"] += 1
            self.holds[hold_id] = hold.model_copy(update={"status": HoldStatus.COMMITTED})
        return self.holds[hold_id]

    async def receive_return(
        self, *, receipt_id: str, order_id: str, lines: list[ReturnedStock]
    ) -> ReturnReceiptRecord:
        self.effects.gate("return.receive", "erp")
        existing = self.receipts.get(receipt_id)
        if existing is None:
            self.effects.counts["return.receive"] += 1
            self.receipts[receipt_id] = ReturnReceiptRecord(
                receipt_id=receipt_id, order_id=order_id, lines=list(lines), received_at=datetime.now(UTC)
            )
        elif existing.order_id != order_id or sorted(existing.lines, key=repr) != sorted(lines, key=repr):
            raise BusinessRejection("return receipt exists with other lines", upstream="erp", code="receipt_mismatch")
        return self.receipts[receipt_id]


class FakeCarrier:
    def __init__(self, effects: Effects, deliver_after_polls: int = 2) -> None:
        self.effects = effects
        self.labels: dict[str, Label] = {}
        self.requests: dict[str, LabelRequest] = {}
        self.voided: set[str] = set()
        self.polls: Counter[str] = Counter()
        self.deliver_after_polls = deliver_after_polls

    async def buy_label(self, request: LabelRequest) -> Label:
        self.effects.gate("buy_label", "carrier")
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
        return self.labels[request.reference]

    async def void_label(self, reference: str) -> LabelVoid:
        if reference not in self.labels:
            return LabelVoid(reference=reference, voided=False)
        self.effects.gate("void_label", "carrier")
        if reference not in self.voided:
            self.effects.counts["void_label"] += 1
            self.voided.add(reference)
        return LabelVoid(reference=reference, voided=True)

    async def track(self, reference: str) -> Tracking:
        self.polls[reference] += 1
        delivered = self.polls[reference] >= self.deliver_after_polls
        status = TrackingStatus.DELIVERED if delivered else TrackingStatus.IN_TRANSIT
        return Tracking(reference=reference, tracking_code="TRK", status=status, raw_status=status.value.lower())

    async def reference_of(self, shipment_id: str) -> str | None:
        return next((label.reference for label in self.labels.values() if label.shipment_id == shipment_id), None)


class FakeNotifier:
    def __init__(self, effects: Effects) -> None:
        self.effects = effects
        self.sent: dict[str, OutboundMessage] = {}

    async def send(self, message: OutboundMessage) -> Delivery:
        self.effects.gate("send", "email")
        self.sent[message.notification_id] = message
        return Delivery(notification_id=message.notification_id, channel="email", accepted=True)


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
