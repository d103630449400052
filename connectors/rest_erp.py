"""Stock holds over the hub's documented ERP contract (``docs/erp-holds-api.md``).

The contract names holds by our key, so ``PUT`` is idempotent by construction and a repeat after a lost answer
returns the hold already made; return receipts are named by our key the same way. The client's ``base_url`` is
the contract root; ``hub/runtime/upstreams.py`` sets the bearer token.
"""

from typing import Any
from urllib.parse import quote

import httpx

from connectors.errors import BusinessRejection
from connectors.http import get_optional, json_body, reconcile, send
from domain.inventory import Hold, ReturnedStock, ReturnReceiptRecord, StockRequest

UPSTREAM = "erp"

_BUSINESS_CODES = frozenset(
    {"hold_mismatch", "hold_committed", "hold_released", "out_of_stock", "unknown_sku", "receipt_mismatch"}
)


def _rejection(response: httpx.Response) -> BusinessRejection | None:
    error = json_body(response).get("error") or {}
    code = error.get("code")
    if code in _BUSINESS_CODES:
        return BusinessRejection(f"erp refused: {code}", upstream=UPSTREAM, code=code)
    return None


class RestErpInventory:
    """``Inventory`` on any ERP that implements the hold contract."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def reserve(self, *, hold_id: str, order_id: str, lines: list[StockRequest]) -> Hold:
        body = {"order_id": order_id, "lines": [line.model_dump() for line in lines]}

        async def attempt() -> Hold:
            return await self._call("PUT", _path(hold_id), json=body)

        return await reconcile(attempt, lambda: self.get_hold(hold_id))

    async def get_hold(self, hold_id: str) -> Hold | None:
        response = await get_optional(self._http, _path(hold_id), upstream=UPSTREAM)
        return None if response is None else Hold.model_validate(json_body(response))

    async def release(self, hold_id: str) -> Hold | None:
        if await self.get_hold(hold_id) is None:
            return None  # never held: nothing to give back
        return await self._transition(hold_id, "release")

    async def commit(self, hold_id: str) -> Hold:
        return await self._transition(hold_id, "commit")

    async def _transition(self, hold_id: str, action: str) -> Hold:
        async def attempt() -> Hold:
            return await self._call("POST", f"{_path(hold_id)}/{action}")

        async def lookup() -> Hold | None:
            hold = await self.get_hold(hold_id)
            done = "released" if action == "release" else "committed"
            return hold if hold is not None and hold.status == done else None

        return await reconcile(attempt, lookup)

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Hold:
        return Hold.model_validate(await self._mutate(method, path, json))

    async def _mutate(self, method: str, path: str, json: dict[str, Any] | None) -> dict[str, Any]:
        response = await send(
            lambda: self._http.request(method, path, json=json),
            upstream=UPSTREAM,
            mutation=True,
            vendor=_rejection,
        )
        return json_body(response)

    async def receive_return(
        self, *, receipt_id: str, order_id: str, lines: list[ReturnedStock]
    ) -> ReturnReceiptRecord:
        """Report goods received back (``PUT /v1/returns/{receipt_id}``); idempotent by ``receipt_id``.

        After a lost answer the receipt is looked up first and the PUT re-sent (by Temporal) only when it is not
        there, or not with these lines: the re-sent PUT then gets the contract's ``receipt_mismatch``.
        """
        body = {"order_id": order_id, "lines": [line.model_dump(mode="json") for line in lines]}

        async def attempt() -> ReturnReceiptRecord:
            return ReturnReceiptRecord.model_validate(await self._mutate("PUT", _return_path(receipt_id), body))

        async def lookup() -> ReturnReceiptRecord | None:
            found = await self.get_return(receipt_id)
            return found if found is not None and _same_receipt(found, order_id, lines) else None

        return await reconcile(attempt, lookup)

    async def get_return(self, receipt_id: str) -> ReturnReceiptRecord | None:
        """The return receipt named ``receipt_id``; ``None`` when the ERP has none."""
        response = await get_optional(self._http, _return_path(receipt_id), upstream=UPSTREAM)
        return None if response is None else ReturnReceiptRecord.model_validate(json_body(response))


def _path(hold_id: str) -> str:
    return f"/v1/holds/{quote(hold_id, safe='')}"


def _return_path(receipt_id: str) -> str:
    return f"/v1/returns/{quote(receipt_id, safe='')}"


def _same_receipt(receipt: ReturnReceiptRecord, order_id: str, lines: list[ReturnedStock]) -> bool:
    def key(items: list[ReturnedStock]) -> list[tuple[str, int, str]]:
        return sorted((line.sku, line.quantity, line.disposition.value) for line in items)

    return receipt.order_id == order_id and key(receipt.lines) == key(lines)
