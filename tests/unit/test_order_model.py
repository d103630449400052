"""Bad orders are refused at the edge with the field and the reason; good ones are immutable and priced exactly."""

from typing import Any

import pytest
from pydantic import ValidationError

from domain.order import Order
from tests.orders import BASE, make_order


def _errors(**changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        Order.model_validate({**BASE, "order_id": "A-1", **changes})
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in raised.value.errors()]


LINE = {"sku": "PEN-01", "quantity": 1, "unit_price": 100}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lines": [{**LINE, "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{**LINE, "quantity": -2}]}, "lines.0.quantity"),
        ({"lines": [{**LINE, "unit_price": 12.5}]}, "lines.0.unit_price"),
        ({"lines": [{**LINE, "unit_price": -1}]}, "lines.0.unit_price"),
        ({"lines": [{**LINE, "unit_price": "100"}]}, "lines.0.unit_price"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [LINE] * 501}, "lines"),
        ({"order_id": "A" * 2000}, "order_id"),
        ({"order_id": "A-1\x00"}, "order_id"),
        ({"order_id": "A\n1"}, "order_id"),
        ({"customer": {**BASE["customer"], "email": "not-an-email"}}, "customer.email"),
        ({"customer": {k: v for k, v in BASE["customer"].items() if k != "email"}}, "customer.email"),
        ({"shipping_address": {**BASE["shipping_address"], "country": "France"}}, "shipping_address.country"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_orders_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    errors = _errors(**changes)
    assert field in [loc for loc, _ in errors], errors
    assert all(msg for _, msg in errors)


def test_total_is_exact_integer_minor_units() -> None:
    order = make_order(
        lines=[{"sku": "A", "quantity": 3, "unit_price": 333}, {"sku": "B", "quantity": 1, "unit_price": 1}]
    )
    assert order.total == 1000
    assert isinstance(order.total, int)


def test_fingerprint_distinguishes_content_not_identity() -> None:
    order = make_order("A-1")
    assert order.fingerprint() == make_order("A-1").fingerprint()
    assert order.fingerprint() != make_order("A-1", payment_method="pm_card_mastercard").fingerprint()


def test_orders_are_immutable() -> None:
    order = make_order()
    with pytest.raises(ValidationError):
        order.currency = "USD"  # type: ignore[misc]
