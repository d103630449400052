"""Issue 6: customer data reaches the Temporal server only encrypted, and the codec server shows it to a key
holder with the ``codec:decode`` scope, from the Web UI's origin only.

Orders run on the real dev server through the bootstrap's composition (``python worker.py``'s) with an encrypting
client; the history is then read back with a plain client, as anyone with access to the server (or its database)
would read it.
"""

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from google.protobuf.message import Message
from pydantic import SecretStr
from temporalio.api.common.v1 import Header, Payload, SearchAttributes
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.contract import order_workflow_id
from domain.order import Order
from domain.status import OrderStatus
from hub.client import OrderClient
from hub.runtime.api_keys import CODEC, READ, WRITE, hash_key
from hub.runtime.bootstrap import api_app, running_worker
from hub.runtime.encryption import data_converter
from hub.runtime.settings import ApiKey, ApiSettings, EncryptionKey, Settings
from sandbox.process import SandboxProcess
from tests.integration.conftest import POLICY, hub_settings
from tests.orders import BASE, make_order, unique_id

UI_ORIGIN = "http://localhost:8233"
CODEC_KEY = "hub_codec_" + uuid.uuid4().hex
ORDERS_KEY = "hub_orders_" + uuid.uuid4().hex


@dataclass(frozen=True)
class Customer:
    email: str
    name: str
    street: str

    def secrets(self) -> list[bytes]:
        return [self.email.encode(), self.name.encode(), self.street.encode()]


def customer_order(payment_method: str = "pm_card_visa") -> tuple[Order, Customer]:
    tag = uuid.uuid4().hex[:10]
    who = Customer(email=f"ada.{tag}@example.com", name=f"Ada Lovelace {tag}", street=f"12 Secret Lane {tag}")
    order = make_order(
        unique_id("ENC"),
        customer={**BASE["customer"], "email": who.email, "name": who.name},
        shipping_address={**BASE["shipping_address"], "line1": who.street},
        payment_method=payment_method,
    )
    return order, who


def walk(message: Message, skip: tuple[type[Message], ...] = ()) -> Iterator[Message]:
    """Every protobuf message inside ``message``, depth first, leaving out subtrees of the ``skip`` types."""
    if isinstance(message, skip):
        return
    yield message
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = value.values()
        elif isinstance(value, Message):
            items = [value]
        else:  # a repeated field
            items = value
        for item in items:
            if isinstance(item, Message):
                yield from walk(item, skip)


@dataclass
class EncryptedHub:
    plain: Client
    encrypting: Client
    orders: OrderClient
    settings: Settings


@pytest.fixture
async def encrypted_hub(temporal_env: WorkflowEnvironment, sandbox: SandboxProcess) -> AsyncIterator[EncryptedHub]:
    task_queue = f"orders-enc-{uuid.uuid4().hex}"
    base = hub_settings(sandbox)
    settings = base.model_copy(
        update={
            "temporal": base.temporal.model_copy(
                update={
                    "encryption_keys": [
                        EncryptionKey(id="test-1", key=SecretStr(base64.b64encode(os.urandom(32)).decode()))
                    ]
                }
            ),
            "api": ApiSettings(
                keys=[
                    ApiKey(id="ui", sha256=hash_key(CODEC_KEY), scopes=[CODEC]),
                    ApiKey(id="backend", sha256=hash_key(ORDERS_KEY), scopes=[READ, WRITE]),
                ],
                codec_cors_origin=UI_ORIGIN,
            ),
        }
    )
    plain = temporal_env.client
    encrypting = Client(
        plain.service_client, namespace=plain.namespace, data_converter=data_converter(settings.temporal)
    )
    async with running_worker(encrypting, settings, task_queue):
        yield EncryptedHub(plain, encrypting, OrderClient(encrypting, task_queue=task_queue, policy=POLICY), settings)


async def run_order(hub: EncryptedHub, order: Order) -> OrderStatus:
    await hub.orders.place(order)
    view = await hub.orders.result(order.order_id)
    return view.status


async def test_history_search_attributes_and_failures_hold_no_customer_data(encrypted_hub: EncryptedHub) -> None:
    shipped, shipped_to = customer_order()
    declined, declined_by = customer_order("pm_card_chargeDeclined")
    assert await run_order(encrypted_hub, shipped) == OrderStatus.COMPLETED
    assert await run_order(encrypted_hub, declined) == OrderStatus.CANCELED

    failures: list[Failure] = []
    for order, who in ((shipped, shipped_to), (declined, declined_by)):
        handle = encrypted_hub.plain.get_workflow_handle(order_workflow_id(order.order_id))
        history = await handle.fetch_history()
        description = await handle.describe()
        stored = b"".join(event.SerializeToString() for event in history.events)
        stored += description.raw_description.SerializeToString()
        for secret in who.secrets():
            assert secret not in stored, f"{secret!r} is readable in the history of {order.order_id}"

        payloads = [
            message
            for event in history.events
            for message in walk(event, skip=(SearchAttributes, Header))
            if isinstance(message, Payload)
        ]
        assert len(payloads) > 5
        assert {p.metadata["encoding"] for p in payloads} == {b"binary/encrypted"}
        assert {p.metadata["encryption-key-id"] for p in payloads} == {b"test-1"}
        failures += [m for event in history.events for m in walk(event) if isinstance(m, Failure)]

    # The decline failed an activity: its message and stack trace travel encrypted too.
    assert failures
    assert {(f.message, f.stack_trace) for f in failures} == {("Encoded failure", "")}
    assert all(f.encoded_attributes.metadata["encoding"] == b"binary/encrypted" for f in failures)


@pytest.fixture
async def codec_api(encrypted_hub: EncryptedHub) -> AsyncIterator[httpx.AsyncClient]:
    """The API app, in process, on the encrypting client: it serves the codec endpoints."""
    async with (
        api_app(encrypted_hub.settings, create_app, temporal=encrypted_hub.encrypting) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hub") as http,
    ):
        yield http


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Namespace": "default"}


async def test_the_codec_server_decodes_for_a_codec_key_from_the_ui_origin_only(
    encrypted_hub: EncryptedHub, codec_api: httpx.AsyncClient
) -> None:
    order, who = customer_order()
    assert await run_order(encrypted_hub, order) == OrderStatus.COMPLETED
    history = await encrypted_hub.plain.get_workflow_handle(order_workflow_id(order.order_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in started.input.payloads
        ]
    }

    decoded = await codec_api.post("/codec/decode", json=body, headers={**bearer(CODEC_KEY), "Origin": UI_ORIGIN})
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == UI_ORIGIN
    assert decoded.headers["access-control-allow-credentials"] == "true"
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    text = base64.b64decode(payload["data"])
    assert all(secret in text for secret in who.secrets())

    # The CLI and other servers send no Origin: a key is enough.
    assert (await codec_api.post("/codec/decode", json=body, headers=bearer(CODEC_KEY))).status_code == 200

    # Encoding round-trips through decoding, with the current key.
    encoded = await codec_api.post("/codec/encode", json={"payloads": [payload]}, headers=bearer(CODEC_KEY))
    assert encoded.status_code == 200
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"test-1"
    again = await codec_api.post("/codec/decode", json=encoded.json(), headers=bearer(CODEC_KEY))
    assert again.json()["payloads"] == [payload]

    # No key, a wrong key, a key without the scope.
    missing = await codec_api.post("/codec/decode", json=body, headers={"Origin": UI_ORIGIN})
    assert missing.status_code == 401
    assert (await codec_api.post("/codec/decode", json=body, headers=bearer("hub_wrong"))).status_code == 401
    assert (await codec_api.post("/codec/decode", json=body, headers=bearer(ORDERS_KEY))).status_code == 403
    for refused in (missing,):
        assert all(secret.decode() not in refused.text for secret in who.secrets())

    # A page on another origin is refused, even with a valid key, and gets no CORS allowance.
    foreign = await codec_api.post(
        "/codec/decode", json=body, headers={**bearer(CODEC_KEY), "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    assert all(secret.decode() not in foreign.text for secret in who.secrets())

    # Not base64: refused before any decoding.
    garbled = {"payloads": [{"metadata": {}, "data": "not base64!"}]}
    assert (await codec_api.post("/codec/decode", json=garbled, headers=bearer(CODEC_KEY))).status_code == 422

    # Another namespace is not this codec's business.
    other = await codec_api.post("/codec/decode", json=body, headers={**bearer(CODEC_KEY), "X-Namespace": "other"})
    assert other.status_code == 400


async def test_preflight_is_answered_for_the_ui_origin_only(codec_api: httpx.AsyncClient) -> None:
    asking = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,x-namespace"}
    ui = await codec_api.options("/codec/decode", headers={**asking, "Origin": UI_ORIGIN})
    assert ui.status_code == 204
    assert ui.headers["access-control-allow-origin"] == UI_ORIGIN
    assert ui.headers["access-control-allow-credentials"] == "true"
    assert ui.headers["access-control-allow-headers"] == "Authorization, Content-Type, X-Namespace"
    assert "POST" in ui.headers["access-control-allow-methods"]

    foreign = await codec_api.options("/codec/decode", headers={**asking, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert not any(name.startswith("access-control-") for name in foreign.headers)
