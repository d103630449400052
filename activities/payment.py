"""Payment activities: authorize, capture, refund, and the reversal that undoes whatever money an authorization
moved. An order may hold several authorizations (``n``): one per later shipment, or a fresh one when the first
is about to expire while the order waits for stock."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import PaymentGateway
from domain.keys import authorization_key, idempotency_key
from domain.payment import Payment, ProviderPaymentState


class AuthorizePayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    amount: int
    currency: str
    payment_method: str
    n: int = 1
    """Which authorization of this order; the idempotency key is derived from it."""


class CapturePayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    payment: Payment
    amount: int
    n: int = 1
    """Which capture of this order (one per shipment)."""


class RefundPayment(BaseModel):
    """Give back ``amount`` of what ``payment`` captured, under a key the caller derives from the business event
    (``{order}:payment.refund:{n}``, ``{order}:rma.{rma}.refund:{n}``)."""

    model_config = ConfigDict(frozen=True)

    payment: Payment
    amount: int
    idempotency_key: str


class ChargePayment(BaseModel):
    """Take ``amount`` anew from the customer's payment method (authorized and captured at once), under keys the
    caller derives from the business event (``{order}:rma.{rma}.unreturned-charge:1``): a charge outside the order's
    own authorizations, such as an exchange whose item never came back."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    amount: int
    currency: str
    payment_method: str
    authorize_key: str
    capture_key: str


class ReversePayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    n: int = 1
    """Which authorization to reverse."""
    refund_captured: bool = True
    """Also refund what was captured; ``False`` only voids what is still authorized (a captured shipment
    stays paid when only the waiting remainder is given up)."""


class PaymentReversal(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    voided: int = 0
    refunded: int = 0
    currency: str | None = None


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    @activity.defn(name="authorize_payment")
    async def authorize(self, request: AuthorizePayment) -> Payment:
        return await self._gateway.authorize(
            order_id=request.order_id,
            amount=request.amount,
            currency=request.currency,
            payment_method=request.payment_method,
            idempotency_key=authorization_key(request.order_id, request.n),
        )

    @activity.defn(name="capture_payment")
    async def capture(self, request: CapturePayment) -> Payment:
        key = idempotency_key(request.order_id, "payment.capture", request.n)
        return await self._gateway.capture(request.payment, request.amount, idempotency_key=key)

    @activity.defn(name="refund_payment")
    async def refund(self, request: RefundPayment) -> Payment:
        return await self._gateway.refund(request.payment, request.amount, idempotency_key=request.idempotency_key)

    @activity.defn(name="charge_payment")
    async def charge(self, request: ChargePayment) -> Payment:
        """Authorize, then capture: asked again, each step finds what it did by its key."""
        payment = await self._gateway.authorize(
            order_id=request.order_id,
            amount=request.amount,
            currency=request.currency,
            payment_method=request.payment_method,
            idempotency_key=request.authorize_key,
        )
        return await self._gateway.capture(payment, request.amount, idempotency_key=request.capture_key)

    @activity.defn(name="reverse_payment")
    async def reverse(self, request: ReversePayment) -> PaymentReversal:
        """Void what is still authorized, refund what was captured; nothing when nothing was authorized.

        Reads the provider's state first rather than trusting the workflow's memory, so it is right even when
        the authorize call's outcome was never known. Asked again after it did its work (its answer was lost, or
        the worker died before recording it), it reports the same reversal, not zero: what the customer is told
        is derived from this answer, and a message sent twice must say the same thing both times.
        """
        order_id, n = request.order_id, request.n
        payment = await self._gateway.find_by_order(order_id, reference=authorization_key(order_id, n))
        if payment is None:
            return PaymentReversal(order_id=order_id)
        voided = refunded = 0
        if payment.state is ProviderPaymentState.AUTHORIZED:
            voided = payment.capturable
            await self._gateway.void(payment, idempotency_key=idempotency_key(order_id, "payment.void", n))
        elif payment.state is ProviderPaymentState.VOIDED:
            voided = payment.authorized - payment.captured  # voided already: the same answer as when it was done
        elif request.refund_captured and payment.refundable > 0:
            refunded = payment.refundable
            key = idempotency_key(order_id, "payment.refund", n)
            await self._gateway.refund(payment, refunded, idempotency_key=key)
        elif request.refund_captured:
            refunded = payment.refunded  # refunded already, in full
        return PaymentReversal(order_id=order_id, voided=voided, refunded=refunded, currency=payment.currency)
