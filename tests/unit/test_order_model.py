"""Bad orders are refused at the edge with the field and the reason; good ones are immutable and priced exactly."""

from typing import Any, cast

import pytest
from pydantic import ValidationError
from temporalio.client import Client

from domain.order import NewOrder, Order
from hub.client import OrderClient
from hub.runtime.settings import Settings
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


def test_a_new_order_with_a_sku_on_two_lines_is_refused_naming_it_and_one_under_way_still_decodes() -> None:
    # Held, shipped and refunded per SKU, a second line would be folded into the first: fewer units shipped and
    # another amount captured than the order's total.
    lines = [LINE, {**LINE, "quantity": 2, "unit_price": 0}, {"sku": "INK-07", "quantity": 1, "unit_price": 5}]
    data = {**BASE, "order_id": "A-1", "lines": lines}
    with pytest.raises(ValidationError) as raised:
        NewOrder.model_validate(data)
    [error] = raised.value.errors()
    assert error["loc"] == ("lines",)
    assert error["msg"].endswith("each sku may appear on one line only, with the total quantity: PEN-01")
    # A workflow decodes its input as Order: one accepted before the rule replays as it was accepted.
    assert Order.model_validate(data).total == 105


async def test_the_python_client_holds_an_order_it_was_given_to_the_same_rules() -> None:
    lines = [LINE, {**LINE, "quantity": 2}]
    temporal = cast(Client, object())  # nothing may be started: any use of the client would raise
    with pytest.raises(ValidationError, match="each sku may appear on one line only"):
        await OrderClient(temporal, task_queue="orders").place(make_order(lines=lines))


def test_the_backorder_decision_page_is_set_from_the_environment_and_must_be_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = "https://shop.example/orders/{order_id}/backorder"
    monkeypatch.setenv("HUB_ORDERS__BACKORDER_DECISION_URL", page)
    settings = Settings()
    assert settings.orders.policy(settings.events).backorder_decision_url == page
    monkeypatch.setenv("HUB_ORDERS__BACKORDER_DECISION_URL", "http://shop.example/backorder")
    with pytest.raises(ValidationError, match=r"orders\.backorder_decision_url"):
        Settings()
