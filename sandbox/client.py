"""A small client for the sandbox's ``/_sandbox`` control API: used by the demo, the tests and the chaos run."""

from typing import Any

import httpx


class SandboxControl:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def __aenter__(self) -> "SandboxControl":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def set_faults(self, rules: list[dict[str, Any]], *, seed: int = 7) -> None:
        """Replace every fault rule (rules select their orders by ``order_prefix``)."""
        (await self._http.put("/_sandbox/faults", json={"seed": seed, "rules": rules})).raise_for_status()

    async def clear_faults(self) -> None:
        (await self._http.delete("/_sandbox/faults")).raise_for_status()

    async def set_stock(self, sku: str, on_hand: int, restock_date: str | None = None) -> None:
        item = {"sku": sku, "on_hand": on_hand, "restock_date": restock_date}
        (await self._http.put("/_sandbox/stock", json={"items": [item]})).raise_for_status()

    async def ledger(self, order_id: str) -> dict[str, Any]:
        response = await self._http.get("/_sandbox/ledger", params={"order_id": order_id})
        response.raise_for_status()
        ledger: dict[str, Any] = response.json()
        return ledger

    async def mail(self, order_id: str) -> list[dict[str, Any]]:
        response = await self._http.get("/_sandbox/mail", params={"order_id": order_id})
        response.raise_for_status()
        mail: list[dict[str, Any]] = response.json()
        return mail
