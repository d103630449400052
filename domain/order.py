"""The order as a backend submits it: validated once, at the edge, and immutable afterwards."""

import hashlib
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, Strict, StringConstraints, field_validator

from domain.currency import CurrencyCode

# Ids travel into workflow ids, idempotency keys, URLs and Message-IDs: a strict, printable alphabet keeps all
# of those valid without escaping, and rejects control characters and unbounded lengths at the edge.
OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
CustomerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
# BCP 47 language tag, the subset shops use: "fr", "fr-FR", "zh-Hant-TW".
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{4})?(-([A-Z]{2}|[0-9]{3}))?$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Strict: a JSON 12.5 or "12" is an error, not silently an int. Money is never a float.
MinorUnits = Annotated[int, Strict(), Field(ge=0, le=10**12)]

MAX_LINES = 500
MAX_QUANTITY = 10_000

Channel = Literal["web", "store", "phone", "api"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# E.164: "+" then up to 15 digits. Shown to the SMS channel only; never in ids, attributes or logs.
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


class Customer(_Frozen):
    id: CustomerId
    email: EmailStr
    name: Text
    locale: Locale = "en"
    phone: Phone | None = None
    """For text messages, when the retailer sends them (configured per event)."""
    channels: Annotated[list[Literal["email", "sms", "webhook"]], Field(min_length=1, max_length=3)] | None = None
    """The customer's own choice of channels, when they made one: it replaces the retailer's per-event choice
    (a channel this hub does not send on is skipped; email is the fallback)."""


class Address(_Frozen):
    line1: Text
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode


class OrderLine(_Frozen):
    sku: Sku
    quantity: Annotated[int, Strict(), Field(gt=0, le=MAX_QUANTITY)]
    unit_price: MinorUnits
    """Price of one unit in the order currency's minor units."""

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


class Order(_Frozen):
    """A customer's order. Amounts are integer minor units of ``currency``."""

    order_id: OrderId
    customer: Customer
    currency: CurrencyCode
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_LINES)]
    shipping_address: Address
    payment_method: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,255}$")]
    """The payment provider's token for the customer's payment method (e.g. Stripe ``pm_…``)."""
    channel: Channel = "web"
    promised_delivery_date: date | None = None
    """The date promised at checkout: no delivery scan by then and the customer is told before they ask."""

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    def fingerprint(self) -> str:
        """A digest of the order's content: the same id submitted with other content is a conflict, not a
        repeat. Kept as workflow memo so it can be compared without reading the (PII-bearing) input."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class NewOrder(Order):
    """An order as it is submitted (the API, ``OrderClient.place``): held to the rules added since orders were first
    accepted. A workflow decodes its input as ``Order``, so an order already under way is never refused on replay
    by a rule that came later."""

    model_config = ConfigDict(title="Order")

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[OrderLine]) -> list[OrderLine]:
        # Stock is held, shipped and refunded per SKU: a second line for one SKU would be folded into the first,
        # shipping fewer units than ordered and capturing another amount than the total.
        repeated = sorted({line.sku for line in lines if sum(other.sku == line.sku for other in lines) > 1})
        if repeated:
            raise ValueError(f"each sku may appear on one line only, with the total quantity: {', '.join(repeated)}")
        return lines
