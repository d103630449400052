"""The API as deployed: ``python -m api`` and ``python worker.py`` as processes, configured by environment, on
the session's dev server and sandbox; a loopback subscriber records the status events the hub sends."""

import asyncio
import base64
import json
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Iterator
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
from hub.dev.processes import Process
from hub.dev.stack import demo_access, sandbox_settings
from hub.runtime.api_keys import hash_key
from hub.runtime.settings import ApiKey, ApiSettings, EventSettings, OrderSettings, Settings, to_env
from sandbox.process import SandboxProcess, free_port


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
    subscriber = Subscriber(url="", secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())

    async def receive(request: Request) -> Response:
        subscriber.received.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=204)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/events", receive, methods=["POST"])]), port=port, log_level="warning")
    )
    threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True).start()
    subscriber.url = f"http://127.0.0.1:{port}/events"
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


def _wait_until_up(url: str, processes: list[Process], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("API did not start:\n" + "\n".join(p.tail() for p in processes))


@pytest.fixture(scope="session")
def api_hub(
    sandbox: SandboxProcess, temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiHub]:
    subscriber, receiver = _serve_subscriber()
    access = demo_access()
    read_key = "hub_read_" + secrets.token_urlsafe(8)
    port = free_port()
    settings = sandbox_settings(
        sandbox,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"api-{uuid.uuid4().hex}",
        timeout_s=1.0,
    ).model_copy(
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
    processes = [
        Process.worker(logs, to_env(settings)),
        Process("api", [sys.executable, "-m", "api"], logs, to_env(settings)),
    ]
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", processes)
        yield ApiHub(f"http://127.0.0.1:{port}", access.api_key, read_key, settings, subscriber)
    finally:
        for process in processes:
            process.stop()
        receiver.should_exit = True
