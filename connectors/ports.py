"""The ports: what the hub needs from each kind of upstream, independent of any vendor.

Every mutating call takes an idempotency key derived from business identity (see ``domain/keys.py``). Every
compensating call (void, release, refund of what exists) is idempotent and a no-op when the step it undoes
never happened. Errors are those of ``connectors/errors.py``.
"""

from typing import Protocol

from domain.inventory import Hold, ReturnedStock, ReturnReceiptRecord, StockRequest
from domain.notification import Delivery, OutboundMessage
from domain.order_view import OrderStatusChanged
from domain.payment import Payment
from domain.shipping import Label, LabelRequest, LabelVoid, Tracking


class PaymentGateway(Protocol):
    async def authorize(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> Payment:
        """Authorize ``amount`` for manual capture later. A decline is a ``BusinessRejection``."""
        ...

    async def capture(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        """Capture at most what is still authorized."""
        ...

    async def void(self, payment: Payment, *, idempotency_key: str) -> Payment:
        """Release what is still authorized; a no-op on an already voided payment."""
        ...

    async def refund(self, payment: Payment, amount: int, *, idempotency_key: str) -> Payment:
        """Give back ``amount`` of what was captured."""
        ...

    async def find_by_order(self, order_id: str, *, reference: str) -> Payment | None:
        """The payment we authorized for ``order_id`` under ``reference`` (our authorize key), if any."""
        ...

    async def order_of(self, payment_id: str) -> str | None:
        """The order the provider's payment ``payment_id`` was made for, as we recorded it with the provider;
        ``None`` when it is not one of ours. How a refund or dispute webhook finds its order."""
        ...


class Inventory(Protocol):
    async def reserve(self, *, hold_id: str, order_id: str, lines: list[StockRequest]) -> Hold:
        """Hold what is available; lines that could not be held come back ``short``."""
        ...

    async def get_hold(self, hold_id: str) -> Hold | None: ...

    async def release(self, hold_id: str) -> Hold | None:
        """Give the held stock back. ``None`` when no such hold exists (nothing to undo)."""
        ...

    async def commit(self, hold_id: str) -> Hold:
        """The held stock leaves the warehouse."""
        ...

    async def receive_return(
        self, *, receipt_id: str, order_id: str, lines: list[ReturnedStock]
    ) -> ReturnReceiptRecord:
        """Goods came back to the warehouse: ``restock`` lines go back on hand, ``damaged`` ones do not.

        Idempotent by ``receipt_id``: reporting the same receipt again returns the one recorded; the same id with
        other lines is a ``BusinessRejection`` (``receipt_mismatch``).
        """
        ...


class Carrier(Protocol):
    async def buy_label(self, request: LabelRequest) -> Label:
        """Buy exactly one label for ``request.reference``, however often it is called."""
        ...

    async def void_label(self, reference: str) -> LabelVoid:
        """Ask the carrier to void (refund) the label. A refusal is a ``BusinessRejection``."""
        ...

    async def track(self, reference: str) -> Tracking: ...

    async def reference_of(self, shipment_id: str) -> str | None:
        """Our reference on the carrier's shipment ``shipment_id``; ``None`` when it is not one of ours. How a
        tracking webhook finds its order."""
        ...


class Notifier(Protocol):
    async def send(self, message: OutboundMessage) -> Delivery:
        """Deliver ``message``; the receiver can drop a repeat by ``message.notification_id``."""
        ...


class StatusPublisher(Protocol):
    async def publish(self, events: list[OrderStatusChanged]) -> None:
        """Deliver ``events`` in order; raise (retryably) if any subscriber has not accepted them."""
        ...
