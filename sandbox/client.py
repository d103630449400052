"""An async client for the sandbox's ``/_sandbox`` control API (the demo, the tests and the chaos run)."""

from typing import Any, Self

import httpx


class SandboxControl:
    """Set fault rules, stock and webhook endpoints, open disputes, read the ledger, the mail and the
    statistics of a running sandbox."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def set_faults(self, rules: list[dict[str, Any]], *, seed: int = 7) -> None:
        """Replace every fault rule (rules select orders by ``order_prefix``); restarts the statistics."""
        (await self._http.put("/_sandbox/faults", json={"seed": seed, "rules": rules})).raise_for_status()

    async def clear_faults(self) -> None:
        """Remove every fault rule."""
        (await self._http.delete("/_sandbox/faults")).raise_for_status()

    async def fault_stats(self) -> dict[str, int]:
        """Faults injected since the rules were last set, reads included: ``delayed``, ``transient``,
        ``rejected``, ``timeout_after_apply``."""
        response = await self._http.get("/_sandbox/faults/stats")
        response.raise_for_status()
        stats: dict[str, int] = response.json()
        return stats

    async def set_stock(
        self, sku: str, on_hand: int, restock_date: str | None = None, location: str | None = None
    ) -> None:
        """Set a SKU's on-hand quantity, restock date (ISO) and the warehouse that stocks it."""
        item = {"sku": sku, "on_hand": on_hand, "restock_date": restock_date, "location": location}
        (await self._http.put("/_sandbox/stock", json={"items": [item]})).raise_for_status()

    async def ledger(self, order_id: str) -> dict[str, Any]:
        """The order's applied side effects and totals."""
        response = await self._http.get("/_sandbox/ledger", params={"order_id": order_id})
        response.raise_for_status()
        ledger: dict[str, Any] = response.json()
        return ledger

    async def all_mail(self) -> list[dict[str, Any]]:
        """Every message received, in arrival order."""
        response = await self._http.get("/_sandbox/mail")
        response.raise_for_status()
        mail: list[dict[str, Any]] = response.json()
        return mail

    async def mail(self, order_id: str) -> list[dict[str, Any]]:
        """The messages the order caused, in arrival order."""
        response = await self._http.get("/_sandbox/mail", params={"order_id": order_id})
        response.raise_for_status()
        mail: list[dict[str, Any]] = response.json()
        return mail

    async def sms(self, order_id: str) -> list[dict[str, Any]]:
        """The text messages the order caused (Twilio stand-in), in order: ``sid``, ``to``, ``from``, ``body``."""
        response = await self._http.get("/_sandbox/sms", params={"order_id": order_id})
        response.raise_for_status()
        sms: list[dict[str, Any]] = response.json()
        return sms

    async def set_webhooks(
        self,
        *,
        carrier: dict[str, str] | None = None,
        payment: dict[str, str] | None = None,
        erp: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Replace every source's webhook endpoint (``{"url", "secret"}``; ``None``: not pushed); restarts the
        statistics. Returns the configuration with masked secrets."""
        body = {"carrier": carrier, "payment": payment, "erp": erp}
        response = await self._http.put("/_sandbox/webhooks", json=body)
        response.raise_for_status()
        settings: dict[str, Any] = response.json()
        return settings

    async def webhooks(self) -> dict[str, Any]:
        """The webhook configuration, secrets masked."""
        response = await self._http.get("/_sandbox/webhooks")
        response.raise_for_status()
        settings: dict[str, Any] = response.json()
        return settings

    async def clear_webhooks(self) -> None:
        """Stop pushing webhooks (pending deliveries are discarded)."""
        (await self._http.delete("/_sandbox/webhooks")).raise_for_status()

    async def webhook_stats(self) -> dict[str, dict[str, int]]:
        """Per source: ``sent``, ``failed_attempts``, ``dropped`` since the endpoints were last set."""
        response = await self._http.get("/_sandbox/webhooks/stats")
        response.raise_for_status()
        stats: dict[str, dict[str, int]] = response.json()
        return stats

    async def dispute(self, payment_intent_id: str, reason: str = "general") -> dict[str, Any]:
        """Open a dispute on a captured intent (pushes ``charge.dispute.created``); returns the dispute."""
        response = await self._http.post(f"/_sandbox/payment/{payment_intent_id}/dispute", json={"reason": reason})
        response.raise_for_status()
        dispute: dict[str, Any] = response.json()
        return dispute

    async def set_carrier_status(self, shipment: str, status: str) -> dict[str, Any]:
        """Force a shipment's tracking status (by id or reference); returns the tracker."""
        response = await self._http.post(f"/_sandbox/carrier/{shipment}/status", json={"status": status})
        response.raise_for_status()
        tracker: dict[str, Any] = response.json()
        return tracker
