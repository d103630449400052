"""Fault injection on reads: the vendor APIs' GETs get latency and transient failures, never rejections or hangs."""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import easypost
import httpx
import pytest
import stripe

from sandbox.faults import READ, FaultEngine, FaultRule, FaultSettings, RejectSpec, read_key
from sandbox.process import SandboxProcess
from tests.sandbox.conftest import unique

SetFaults = Callable[..., Awaitable[dict[str, Any]]]
STRIPE = {"Authorization": "Bearer sk_test_reads"}
EASYPOST = {"Authorization": "Bearer EZTK_reads"}
ERP = {"Authorization": "Bearer erp-token"}
TRANSIENT = {500, 502, 503, 429}
# The error codes each upstream answers a transient failure with, as for its mutations.
TRANSIENT_CODES = {
    "payment": {"api_error", "rate_limit"},  # Stripe: ``type`` api_error, or ``code`` rate_limit for a 429
    "carrier": {"INTERNAL_SERVER_ERROR", "BAD_GATEWAY", "SERVICE.UNAVAILABLE", "RATE_LIMITED"},
    "erp": {"unavailable", "rate_limited"},
}
ADDRESS = {"street1": "1 Main St", "city": "Springfield", "zip": "12345", "country": "US"}


@dataclass(frozen=True)
class Read:
    """One GET of a vendor API and the upstream that serves it."""

    upstream: str
    path: str
    params: tuple[tuple[str, str], ...] = ()

    async def send(self, http: httpx.AsyncClient, wait_s: float = 10) -> httpx.Response:
        headers = {"payment": STRIPE, "carrier": EASYPOST, "erp": ERP}[self.upstream]
        return await http.get(self.path, params=list(self.params), headers=headers, timeout=wait_s)


async def order_resources(http: httpx.AsyncClient, order_id: str) -> list[Read]:
    """Create an order's intent (captured, partly refunded), bought shipment and hold; return its reads."""
    intent = await http.post(
        "/v1/payment_intents",
        data={
            "amount": "2500",
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": "true",
            "metadata[order_id]": order_id,
        },
        headers=STRIPE,
    )
    intent_id = intent.json()["id"]
    refund = await http.post("/v1/refunds", data={"payment_intent": intent_id, "amount": "500"}, headers=STRIPE)
    reference = f"{order_id}:shipment:1"
    body = {
        "shipment": {
            "reference": reference,
            "to_address": ADDRESS,
            "from_address": ADDRESS,
            "parcel": {"weight": 8},
        }
    }
    shipment = (await http.post("/v2/shipments", json=body, headers=EASYPOST)).json()
    bought = await http.post(
        f"/v2/shipments/{shipment['id']}/buy",
        json={"rate": {"id": shipment["rates"][0]["id"]}},
        headers=EASYPOST,
    )
    hold_id = f"{order_id}:inventory.hold:1"
    hold = await http.put(
        f"/erp/v1/holds/{hold_id}",
        json={"order_id": order_id, "lines": [{"sku": f"SKU-{order_id}", "quantity": 1}]},
        headers=ERP,
    )
    assert [r.status_code for r in (intent, refund, bought, hold)] == [200, 200, 200, 201]
    return [
        Read("payment", f"/v1/payment_intents/{intent_id}"),
        Read("payment", "/v1/payment_intents/search", (("query", f"metadata['order_id']:'{order_id}'"),)),
        Read("payment", "/v1/refunds", (("payment_intent", intent_id),)),
        Read("payment", f"/v1/refunds/{refund.json()['id']}"),
        Read("carrier", f"/v2/shipments/{shipment['id']}"),
        Read("carrier", f"/v2/shipments/{reference}"),
        Read("carrier", f"/v2/trackers/{bought.json()['tracker']['id']}"),
        Read("erp", f"/erp/v1/holds/{hold_id}"),
    ]


def transient_code(upstream: str, response: httpx.Response) -> str:
    error = response.json()["error"]
    if upstream == "payment":
        return str(error["code"] if response.status_code == 429 else error["type"])
    return str(error["code"])


async def stats(http: httpx.AsyncClient) -> dict[str, int]:
    response = await http.get("/_sandbox/faults/stats")
    response.raise_for_status()
    counts: dict[str, int] = response.json()
    return counts


def test_engine_never_rejects_or_hangs_a_read() -> None:
    engine = FaultEngine(seed=5, hang_seconds=0)
    engine.configure(
        FaultSettings(
            rules=[
                FaultRule(timeout_after_apply_rate=1, reject=RejectSpec(code="no"), latency_ms=7),
                FaultRule(upstream="erp", operation="read", error_rate=0.5),
            ]
        )
    )
    decisions = [engine.decide("erp", READ, "O-1", f"GET /erp/v1/holds/O-1:{i % 5}") for i in range(40)]
    assert all(d.reject is None and not d.timeout_after_apply for d in decisions)
    assert all(d.latency_s == pytest.approx(0.007) for d in decisions)
    assert any(d.transient_status for d in decisions)
    assert any(d.transient_status is None for d in decisions)
    mutation = engine.decide("erp", "hold.put", "O-1", "O-1:0")
    assert mutation.reject is not None  # the same rules do reject a mutation
    assert read_key("GET", "/erp/v1/availability", [("sku", "b"), ("sku", "a")]) == (
        "GET /erp/v1/availability?sku=a&sku=b"
    )
    assert read_key("get", "/v2/trackers/trk_1", []) == "GET /v2/trackers/trk_1"


async def test_read_error_rate_is_roughly_honoured_on_every_upstream(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    reads = await order_resources(http, order_id)
    # The catch-all rule of the acceptance run: it now hits reads too.
    await set_faults({"upstream": "*", "operation": "*", "order_prefix": order_id, "error_rate": 0.3})
    sent = [reads[n % len(reads)] for n in range(240)]  # repeated keys get fresh draws
    responses = [await read.send(http) for read in sent]
    failed = [(read, r) for read, r in zip(sent, responses, strict=True) if r.status_code != 200]
    assert 36 <= len(failed) <= 108  # 72 expected; about 4.5 standard deviations either side
    assert {r.status_code for _, r in failed} <= TRANSIENT
    assert all(r.headers["Retry-After"] == "1" for _, r in failed if r.status_code == 429)
    assert all(transient_code(read.upstream, r) in TRANSIENT_CODES[read.upstream] for read, r in failed)
    assert set(Counter(read.upstream for read, _ in failed)) == {"payment", "carrier", "erp"}
    assert await stats(http) == {
        "delayed": 0,
        "transient": len(failed),
        "rejected": 0,
        "timeout_after_apply": 0,
    }
    # Retrying a read converges, as for mutations.
    for read, _ in failed:
        for _attempt in range(12):
            if (await read.send(http)).status_code == 200:
                break
        else:
            pytest.fail(f"{read} kept failing")


async def test_read_operation_selects_reads_only(http: httpx.AsyncClient, set_faults: SetFaults, order_id: str) -> None:
    reads = await order_resources(http, order_id)
    await set_faults({"operation": "read", "order_prefix": order_id, "error_rate": 1})
    assert all([(await read.send(http)).status_code in TRANSIENT for read in reads])
    put = await http.put(
        f"/erp/v1/holds/{order_id}:inventory.hold:2",
        json={"order_id": order_id, "lines": [{"sku": "ANY", "quantity": 1}]},
        headers=ERP,
    )
    assert put.status_code == 201
    await set_faults({"operation": "hold.put", "order_prefix": order_id, "error_rate": 1})
    assert [(await read.send(http)).status_code for read in reads] == [200] * len(reads)


async def test_read_outcomes_are_deterministic_for_a_seed(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    reads = await order_resources(http, order_id)
    rule = {"upstream": "*", "operation": "read", "order_prefix": order_id, "error_rate": 0.5}

    async def run(seed: int) -> list[int]:
        await set_faults(rule, seed=seed)  # restarts the occurrence counters
        return [(await reads[n % len(reads)].send(http)).status_code for n in range(48)]

    first = await run(11)
    assert first == await run(11)
    assert 200 in first and set(first) - {200}
    assert first != await run(12)


async def test_reads_are_filtered_by_the_order_prefix(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    faulted = await order_resources(http, order_id)
    other = await order_resources(http, unique())
    await set_faults({"upstream": "*", "order_prefix": order_id, "error_rate": 1})
    assert [(await read.send(http)).status_code in TRANSIENT for read in faulted] == [True] * len(faulted)
    assert [(await read.send(http)).status_code for read in other] == [200] * len(other)

    # Unknown objects, and availability, have no order: only rules without an order_prefix reach them.
    anonymous = [
        Read("payment", "/v1/payment_intents/pi_unknown"),
        Read("payment", "/v1/refunds/re_unknown"),
        Read("payment", "/v1/refunds", (("payment_intent", "pi_unknown"),)),
        Read("payment", "/v1/payment_intents/search", (("query", "status:'succeeded'"),)),
        Read("carrier", "/v2/shipments/shp_unknown"),
        Read("carrier", "/v2/trackers/trk_unknown"),
        Read("erp", "/erp/v1/holds/unknown-hold"),
        Read("erp", "/erp/v1/availability", (("sku", f"SKU-{order_id}"),)),
    ]
    assert [(await read.send(http)).status_code for read in anonymous] == [404, 404, 200, 200, 404, 404, 404, 200]
    # A shipment reference or a hold id names its order even when nothing exists under it yet.
    named = [Read("carrier", f"/v2/shipments/{order_id}:shipment:9"), Read("erp", f"/erp/v1/holds/{order_id}:x")]
    assert all([(await read.send(http)).status_code in TRANSIENT for read in named])

    await set_faults({"upstream": "erp", "operation": "read", "error_rate": 1})
    assert (await anonymous[-1].send(http)).status_code in TRANSIENT
    assert (await anonymous[-2].send(http)).status_code in TRANSIENT


async def test_reads_are_never_rejected_or_hung(http: httpx.AsyncClient, set_faults: SetFaults, order_id: str) -> None:
    reads = await order_resources(http, order_id)
    await set_faults(
        {
            "upstream": "*",
            "order_prefix": order_id,
            "timeout_after_apply_rate": 1,
            "reject": {"code": "out_of_stock", "message": "no"},
        }
    )
    started = time.monotonic()
    responses = [await read.send(http, wait_s=1) for read in reads]  # a hang would last 2 s
    assert [r.status_code for r in responses] == [200] * len(reads)
    assert time.monotonic() - started < 1
    assert await stats(http) == {"delayed": 0, "transient": 0, "rejected": 0, "timeout_after_apply": 0}
    # The same rule does reject a mutation.
    put = await http.put(
        f"/erp/v1/holds/{order_id}:inventory.hold:2",
        json={"order_id": order_id, "lines": [{"sku": "ANY", "quantity": 1}]},
        headers=ERP,
    )
    assert (put.status_code, put.json()["error"]["code"]) == (409, "out_of_stock")


async def test_latency_applies_to_reads(http: httpx.AsyncClient, set_faults: SetFaults, order_id: str) -> None:
    [*_, hold] = await order_resources(http, order_id)
    await set_faults({"operation": "read", "order_prefix": order_id, "latency_ms": 300})
    started = time.monotonic()
    assert (await hold.send(http)).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    other = Read("erp", "/erp/v1/availability", (("sku", "ANY"),))  # no order: the rule does not match
    assert (await other.send(http)).status_code == 200
    assert time.monotonic() - started < 0.3
    assert (await stats(http))["delayed"] == 1


async def test_official_clients_see_their_own_transient_errors(
    sandbox: SandboxProcess, http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    reads = await order_resources(http, order_id)
    await set_faults({"operation": "read", "order_prefix": order_id, "error_rate": 1})
    payments = stripe.StripeClient("sk_test_reads", base_addresses={"api": sandbox.base_url}, max_network_retries=0)
    with pytest.raises(stripe.StripeError) as stripe_error:
        await asyncio.to_thread(payments.v1.payment_intents.retrieve, reads[0].path.rsplit("/", 1)[1])
    assert stripe_error.value.http_status in TRANSIENT
    carrier = easypost.EasyPostClient("EZTK_reads", api_base=f"{sandbox.base_url}/v2", timeout=10)
    with pytest.raises(easypost.errors.ApiError) as easypost_error:
        await asyncio.to_thread(carrier.shipment.retrieve, reads[4].path.rsplit("/", 1)[1])
    assert easypost_error.value.http_status in TRANSIENT
