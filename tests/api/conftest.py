"""The API as deployed: ``python -m api`` and ``python worker.py`` as processes, configured by environment, on
the session's dev server and sandbox; a loopback subscriber records the status events the hub sends. Fixtures
for the tests that talk to it: an HTTP client with the backend's key, the sandbox's upstreams pushing their
webhooks to it, and ``until`` to wait on what it answers."""

import asyncio
import base64
import json
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from domain.returns import ReturnPolicy
from hub.dev.access import demo_access
from hub.dev.harness import start_api
from hub.dev.processes import Process
from hub.dev.stack import sandbox_settings, webhook_targets
from hub.runtime.api_keys import hash_key
from hub.runtime.settings import ApiKey, ApiSettings, EventSettings, OrderSettings, Settings, to_env
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from tests.eventually import eventually
from tests.servers import listening_socket, server_on, url_of


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Subscriber:
    """A retailer backend receiving the hub's status events."""

    url: str
    secret: str
    received: list[Received] = field(default_factory=list)

    def events_for(self, order_id: str) -> list[dict[str, Any]]:
        events = [json.loads(r.body) for r in self.received]
        return [e for e in events if e["order_id"] == order_id]


def _serve_subscriber() -> tuple[Subscriber, uvicorn.Server]:
    """The subscriber, served from a thread of its own: it must answer the hub whatever a test's event loop does."""
    subscriber = Subscriber(url="", secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())

    async def receive(request: Request) -> Response:
        subscriber.received.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=204)

    sock = listening_socket()
    server = server_on(Starlette(routes=[Route("/events", receive, methods=["POST"])]))
    threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True).start()
    subscriber.url = url_of(sock, "/events")
    return subscriber, server


@dataclass
class ApiHub:
    url: str
    write_key: str
    read_key: str
    settings: Settings
    subscriber: Subscriber

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.write_key}"}


@pytest.fixture(scope="session")
async def api_hub(
    sandbox: SandboxProcess, temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ApiHub]:
    subscriber, receiver = _serve_subscriber()
    access = demo_access()
    read_key = "hub_read_" + secrets.token_urlsafe(8)
    hub = sandbox_settings(
        sandbox,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"api-{uuid.uuid4().hex}",
        timeout_s=1.0,
    )

    def settings(port: int) -> Settings:
        return hub.model_copy(
            update={
                "api": ApiSettings(
                    port=port,
                    keys=[
                        ApiKey(id="backend", sha256=hash_key(access.api_key), scopes=["orders:read", "orders:write"]),
                        ApiKey(id="dashboard", sha256=hash_key(read_key), scopes=["orders:read"]),
                    ],
                    webhooks=access.secrets,
                ),
                "events": EventSettings(subscribers=[subscriber.url], secret=subscriber.secret),
                # Hourly polling: anything that moves a parcel within a test came in through a webhook.
                # No return window unless a test opens one: an order's workflow ends at delivery.
                "orders": OrderSettings(
                    tracking_poll_interval=timedelta(hours=1), returns=ReturnPolicy(window=timedelta(0))
                ),
            }
        )

    logs: Path = tmp_path_factory.mktemp("api-logs")
    processes = [Process.worker(logs, to_env(settings(ApiSettings().port)))]  # the worker serves no HTTP
    try:
        api, url = await start_api(logs, lambda port: to_env(settings(port)), timeout_s=30)
        processes.append(api)
        yield ApiHub(url, access.api_key, read_key, settings(httpx.URL(url).port or 0), subscriber)
    finally:
        for process in processes:
            process.stop()
        receiver.should_exit = True


@pytest.fixture
async def http(api_hub: ApiHub) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the API with the backend's key (read and write)."""
    async with httpx.AsyncClient(base_url=api_hub.url, headers=api_hub.headers(), timeout=60) as client:
        yield client


@pytest.fixture
async def upstreams_push_to_the_api(api_hub: ApiHub, control: SandboxControl) -> SandboxControl:
    """The sandbox's carrier, payment provider and ERP push their webhooks to the API, as in production (until the
    test ends: ``control`` clears them)."""
    await control.set_webhooks(**webhook_targets(api_hub.url, api_hub.settings.api.webhooks))
    return control


async def until(
    http: httpx.AsyncClient, path: str, ready: Callable[[dict[str, Any]], bool], timeout_s: float = 60
) -> dict[str, Any]:
    """``GET path`` until it answers 200 with a body that is ``ready``; that body."""

    async def get() -> httpx.Response:
        return await http.get(path)

    answer = await eventually(
        get,
        lambda response: response.status_code == 200 and ready(response.json()),
        what=f"GET {path} to satisfy the condition",
        timeout_s=timeout_s,
        show=lambda response: f"{response.status_code} {response.text}",
    )
    body: dict[str, Any] = answer.json()
    return body
