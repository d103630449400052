"""One event id, delivered once: a repeat while the first delivery is under way is told to come back (409, the
first may still fail); a repeat after it is acknowledged as a duplicate; neither reaches the orders again."""

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api import problems
from api.webhooks import webhooks_router
from connectors.webhook_signatures import sign_standard
from domain.events import StockEvent
from hub.client import OrderClient
from hub.runtime.settings import WebhookSecrets

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class SlowOrders:
    """The orders side of ``OrderClient``, waking orders only when the test lets it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.woken: list[str] = []

    async def wake_orders_waiting_for(self, event: StockEvent) -> int:
        self.woken.append(event.event_id)
        self.started.set()
        await self.release.wait()
        return 1


async def nobody(_: str) -> str | None:
    return None


@pytest.fixture
def orders() -> SlowOrders:
    return SlowOrders()


@pytest.fixture
async def http(orders: SlowOrders) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    problems.install(app)
    secrets_ = WebhookSecrets(erp=SecretStr(SECRET))
    app.include_router(
        webhooks_router(cast(OrderClient, orders), secrets_, shipment_reference=nobody, order_of_payment=nobody)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
        yield client


def stock_changed(message_id: str) -> tuple[bytes, dict[str, str]]:
    at = datetime.now(UTC)
    data = {"sku": "INK-07", "available": 3, "restock_date": None}
    body = json.dumps({"type": "stock.changed", "timestamp": at.isoformat(), "data": data}).encode()
    return body, {"Content-Type": "application/json", **sign_standard(SECRET, message_id, at, body)}


async def test_a_repeat_during_delivery_is_409_and_after_it_a_duplicate(
    http: httpx.AsyncClient, orders: SlowOrders
) -> None:
    body, headers = stock_changed("msg_1")
    first = asyncio.create_task(http.post("/webhooks/erp", content=body, headers=headers))
    await orders.started.wait()
    during = await http.post("/webhooks/erp", content=body, headers=headers)
    assert during.status_code == 409 and during.json()["title"] == "Event being delivered"

    orders.release.set()
    assert (await first).json() == {"event_id": "erp:msg_1", "outcome": "delivered", "orders_woken": 1}
    after = await http.post("/webhooks/erp", content=body, headers=headers)
    assert after.status_code == 202 and after.json()["outcome"] == "duplicate"
    assert orders.woken == ["erp:msg_1"]


async def test_an_unknown_type_is_acknowledged_and_reaches_no_order(
    http: httpx.AsyncClient, orders: SlowOrders
) -> None:
    at = datetime.now(UTC)
    body = json.dumps({"type": "hold.expired", "timestamp": at.isoformat(), "data": {}}).encode()
    headers = {"Content-Type": "application/json", **sign_standard(SECRET, "msg_2", at, body)}
    answer = await http.post("/webhooks/erp", content=body, headers=headers)
    assert (answer.status_code, answer.json()["outcome"]) == (202, "ignored") and orders.woken == []
