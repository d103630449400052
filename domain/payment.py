"""What the hub knows about a payment at the provider, whatever the provider."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ProviderPaymentState(StrEnum):
    """The provider's view of one authorization, normalised."""

    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    VOIDED = "voided"
    FAILED = "failed"


class Payment(BaseModel):
    """One authorization and what became of it. Amounts in minor units of ``currency``."""

    model_config = ConfigDict(frozen=True)

    payment_id: str
    order_id: str
    reference: str
    """Our idempotency key for the authorization, stored with the payment so a lookup can find it."""
    state: ProviderPaymentState
    currency: str
    authorized: int
    captured: int = 0
    refunded: int = 0

    @property
    def capturable(self) -> int:
        return self.authorized - self.captured if self.state is ProviderPaymentState.AUTHORIZED else 0

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded
