"""Bad orders get 422 naming each bad field and why, and start nothing in Temporal."""

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.contract import order_workflow_id
from tests.api.test_orders_api import order_json
from tests.orders import BASE, unique_id

LINE = {"sku": "PEN-01", "quantity": 1, "unit_price": 12900}

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "zero quantity": ({"lines": [{**LINE, "quantity": 0}]}, "lines.0.quantity"),
    "negative quantity": ({"lines": [{**LINE, "quantity": -1}]}, "lines.0.quantity"),
    "fractional amount": ({"lines": [{**LINE, "unit_price": 129.5}]}, "lines.0.unit_price"),
    "negative amount": ({"lines": [{**LINE, "unit_price": -100}]}, "lines.0.unit_price"),
    "unknown currency": ({"currency": "ABC"}, "currency"),
    "no lines": ({"lines": []}, "lines"),
    "more than 500 lines": ({"lines": [LINE] * 501}, "lines"),
    # Stock, parcels and refunds go per SKU: a second line would be folded into the first and charged wrongly.
    "one sku on two lines": ({"lines": [LINE, {**LINE, "quantity": 2, "unit_price": 0}]}, "lines"),
    "2,000-character id": ({"order_id": "A" * 2000}, "order_id"),
    "id with control characters": ({"order_id": "A-1\x07\x00"}, "order_id"),
    "missing email": ({"customer": {k: v for k, v in BASE["customer"].items() if k != "email"}}, "customer.email"),
    "malformed email": ({"customer": {**BASE["customer"], "email": "ana@@example"}}, "customer.email"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_invalid_order_is_refused_with_the_field_and_starts_nothing(
    http: httpx.AsyncClient, temporal_client: Client, case: str
) -> None:
    changes, field = CASES[case]
    customer_id = unique_id("BAD")
    body = order_json(customer={**BASE["customer"], "id": customer_id}) | changes
    answer = await http.post("/orders", json=body)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    assert all(e["reason"] for e in errors)

    if isinstance(body["order_id"], str) and body["order_id"].isprintable() and len(body["order_id"]) < 100:
        with pytest.raises(RPCError) as missing:
            await temporal_client.get_workflow_handle(order_workflow_id(body["order_id"])).describe()
        assert missing.value.status is RPCStatusCode.NOT_FOUND
    await asyncio.sleep(0.5)  # visibility lags writes a little: give a wrongly started workflow time to show
    started = [w async for w in temporal_client.list_workflows(f'CustomerId = "{customer_id}"')]
    assert started == []
