"""Payment activities: authorize, capture, and the one compensation that undoes whatever money moved."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import PaymentGateway
from domain.keys import idempotency_key
from domain.payment import Payment, ProviderPaymentState


class AuthorizePayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    amount: int
    currency: str
    payment_method: str


class CapturePayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    payment: Payment
    amount: int
    n: int = 1
    """Which capture of this order (one per shipment)."""


class ReversePayment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str


class PaymentReversal(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    voided: int = 0
    refunded: int = 0
    currency: str | None = None


def authorization_key(order_id: str) -> str:
    return idempotency_key(order_id, "payment.authorize")


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
            idempotency_key=authorization_key(request.order_id),
        )

    @activity.defn(name="capture_payment")
    async def capture(self, request: CapturePayment) -> Payment:
        key = idempotency_key(request.order_id, "payment.capture", request.n)
        return await self._gateway.capture(request.payment, request.amount, idempotency_key=key)

    @activity.defn(name="reverse_payment")
    async def reverse(self, request: ReversePayment) -> PaymentReversal:
        """Void what is still authorized, refund what was captured; nothing when nothing was authorized.

        Reads the provider's state first rather than trusting the workflow's memory, so it is right even when
        the authorize call's outcome was never known.
        """
        payment = await self._gateway.find_by_order(request.order_id, reference=authorization_key(request.order_id))
        if payment is None:
            return PaymentReversal(order_id=request.order_id)
        voided = refunded = 0
        if payment.state is ProviderPaymentState.AUTHORIZED:
            voided = payment.capturable
            key = idempotency_key(request.order_id, "payment.void")
            await self._gateway.void(payment, idempotency_key=key)
        elif payment.refundable > 0:
            refunded = payment.refundable
            key = idempotency_key(request.order_id, "payment.refund")
            await self._gateway.refund(payment, refunded, idempotency_key=key)
        return PaymentReversal(order_id=request.order_id, voided=voided, refunded=refunded, currency=payment.currency)
