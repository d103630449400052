"""Keys derive from business identity only; messages say what happened in the customer's language."""

from email.headerregistry import Address
from email.utils import parseaddr

from domain.contract import order_workflow_id
from domain.currency import format_amount
from domain.keys import hold_id, idempotency_key, notification_id, order_id_of, shipment_reference
from domain.order import Customer
from domain.order_view import FailureReason
from notifications.notice import CustomerNotice, NoticeKind, TrackingLink, Undone
from notifications.render import format_money, render


def test_keys_are_derived_from_the_order_and_step_only() -> None:
    assert order_workflow_id("A-1001") == "order:A-1001"
    assert idempotency_key("A-1", "payment.capture") == "A-1:payment.capture:1"
    assert idempotency_key("A-1", "payment.capture", 2) == "A-1:payment.capture:2"
    assert hold_id("A-1") == "A-1:inventory.hold:1"
    assert order_id_of(shipment_reference("A-1")) == "A-1"


def test_notification_id_makes_a_valid_message_id() -> None:
    message_id = f"<{notification_id('A-1001', 'order-shipped')}@hub.example>"
    assert message_id == "<A-1001.order-shipped.1@hub.example>"
    assert Address(addr_spec=parseaddr(message_id)[1]).domain == "hub.example"


def test_amounts_are_formatted_per_currency_exponent_and_language() -> None:
    assert format_amount(12900, "EUR") == "129.00 EUR"
    assert format_amount(1290, "JPY") == "1290 JPY"
    assert format_amount(1290, "KWD") == "1.290 KWD"
    assert format_money(4200, "EUR", "fr") == "42,00\u00a0€"
    assert format_money(123456789, "USD", "en") == "$1,234,567.89"


def _notice(kind: NoticeKind, locale: str, **changes: object) -> CustomerNotice:
    customer = Customer(id="C-1", email="ana@example.com", name="Ana", locale=locale)
    fields: dict[str, object] = {
        "order_id": "A-1",
        "kind": kind,
        "customer": customer,
        "currency": "EUR",
        "total": 12900,
    }
    return CustomerNotice.model_validate({**fields, **changes})


def test_cancellation_names_the_reason_and_each_thing_undone_in_english() -> None:
    rendered = render(
        _notice(
            NoticeKind.ORDER_CANCELED,
            "en-GB",
            reason=FailureReason.LABEL_REJECTED,
            undone=[Undone.STOCK_RELEASED, Undone.PAYMENT_VOIDED],
            amount_returned=12900,
        )
    )
    assert rendered.subject == "Order A-1 cancelled"
    assert "our carrier could not accept a parcel for your address" in rendered.text
    assert "authorization of €129.00" in rendered.text
    assert "items reserved for you have been released" in rendered.text


def test_shipped_message_in_french_carries_tracking() -> None:
    rendered = render(
        _notice(NoticeKind.ORDER_SHIPPED, "fr-FR", tracking=[TrackingLink(carrier="USPS", tracking_code="9400TRK")])
    )
    assert rendered.subject == "Votre commande A-1 est expédiée"
    assert "129,00\u00a0€" in rendered.text and "9400TRK" in rendered.text
    assert rendered.text.startswith("Bonjour Ana,")
