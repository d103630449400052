"""Fixtures of the sandbox tests: unique order ids, HTTP clients (the whole sandbox, its ERP), fault rules that
always get cleared, a webhook receiver and secrets to sign with."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from sandbox.process import SandboxProcess
from tests.sandbox.receiver import Receiver, Secrets

SetFaults = Callable[..., Awaitable[dict[str, Any]]]
ReadLedger = Callable[[str], Awaitable[dict[str, Any]]]


def unique(prefix: str = "T") -> str:
    """An id no other test uses, so tests stay independent on the shared sandbox."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def order_id() -> str:
    """A fresh order id."""
    return unique()


@pytest.fixture
async def http(sandbox: SandboxProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An async client on the sandbox's HTTP base URL."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def erp(sandbox: SandboxProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An async client on the sandbox's ERP (``/erp``), with the ERP's bearer key."""
    async with httpx.AsyncClient(
        base_url=f"{sandbox.base_url}/erp", headers={"Authorization": "Bearer erp-token"}, timeout=10
    ) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver listening while the test runs."""
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def keys() -> Secrets:
    """Fresh webhook secrets for the test."""
    return Secrets()


@pytest.fixture
async def set_faults(http: httpx.AsyncClient) -> AsyncIterator[SetFaults]:
    """``await set_faults(rule, …, seed=…)`` installs fault rules; they are removed after the test."""

    async def install(*rules: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
        response = await http.put("/_sandbox/faults", json={"seed": seed, "rules": list(rules)})
        assert response.status_code == 200, response.text
        settings: dict[str, Any] = response.json()
        return settings

    try:
        yield install
    finally:
        (await http.delete("/_sandbox/faults")).raise_for_status()


@pytest.fixture
def ledger(http: httpx.AsyncClient) -> ReadLedger:
    """``await ledger(order_id)``: the sandbox's ledger of one order."""

    async def read(order_id: str) -> dict[str, Any]:
        response = await http.get("/_sandbox/ledger", params={"order_id": order_id})
        response.raise_for_status()
        view: dict[str, Any] = response.json()
        return view

    return read
