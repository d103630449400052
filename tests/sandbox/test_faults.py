"""Fault injection: determinism, rates, timeout-after-apply, rejections per upstream, latency."""

import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import httpx
import pytest

from sandbox.faults import FaultEngine, FaultRule, FaultSettings
from sandbox.process import SandboxProcess

SetFaults = Callable[..., Awaitable[dict[str, Any]]]
ReadLedger = Callable[[str], Awaitable[dict[str, Any]]]
STRIPE = {"Authorization": "Bearer sk_test_faults"}
ERP = {"Authorization": "Bearer erp-token"}
EASYPOST = {"Authorization": "Bearer EZTK_faults"}
TRANSIENT = {500, 502, 503, 429}


def authorize_form(order_id: str) -> dict[str, str]:
    return {
        "amount": "2500",
        "currency": "eur",
        "payment_method": "pm_card_visa",
        "capture_method": "manual",
        "confirm": "true",
        "metadata[order_id]": order_id,
    }


async def put_hold(http: httpx.AsyncClient, order_id: str, n: int) -> httpx.Response:
    return await http.put(
        f"/erp/v1/holds/{order_id}:inventory.hold:{n}",
        json={"order_id": order_id, "lines": [{"sku": f"SKU-{order_id}", "quantity": 1}]},
        headers=ERP,
    )


def outcome(response: httpx.Response) -> str:
    return str(response.status_code) if response.status_code in TRANSIENT else "applied"


def email(order_id: str, message_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "shop@example.com", "ada@example.com", "Hello"
    mail["Message-ID"], mail["X-Hub-Order-Id"] = message_id, order_id
    mail.set_content("Hello")
    return mail


def test_engine_decisions_are_a_function_of_seed_key_and_occurrence() -> None:
    rules = [FaultRule(upstream="erp", error_rate=0.4, timeout_after_apply_rate=0.2, latency_ms=5)]
    requests = [("hold.put", f"K-{i % 7}") for i in range(40)]  # repeated keys: occurrence counts matter

    def run(seed: int) -> list[tuple[int | None, bool]]:
        engine = FaultEngine(seed=seed, hang_seconds=0)
        engine.configure(FaultSettings(rules=rules))
        return [
            (d.transient_status, d.timeout_after_apply)
            for d in (engine.decide("erp", op, "O-1", key) for op, key in requests)
        ]

    assert run(3) == run(3)
    assert run(3) != run(4)
    outcomes = run(3)
    assert any(status is not None for status, _ in outcomes)
    assert any(hang for _, hang in outcomes)
    assert any(status is None and not hang for status, hang in outcomes)

    engine = FaultEngine(seed=3, hang_seconds=0)
    engine.configure(FaultSettings(rules=rules))
    assert engine.decide("payment", "capture", "O-1", "K-0").transient_status is None  # other upstream
    assert engine.decide("erp", "hold.put", "O-1", "K-0").latency_s == pytest.approx(0.005)


def test_faults_per_request_bounds_how_often_one_request_fails() -> None:
    engine = FaultEngine(seed=1, hang_seconds=0)
    engine.configure(FaultSettings(rules=[FaultRule(error_rate=1.0, faults_per_request=2, latency_ms=3)]))
    attempts = [engine.decide("payment", "capture", "O-1", "K-1") for _ in range(4)]
    assert [d.transient_status is not None for d in attempts] == [True, True, False, False]
    assert all(d.latency_s == pytest.approx(0.003) for d in attempts)  # latency is not a fault; it stays
    assert engine.decide("payment", "capture", "O-1", "K-2").transient_status is not None  # counted per request


async def test_same_seed_and_requests_give_the_same_outcomes(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    rule = {"upstream": "erp", "operation": "hold.put", "order_prefix": order_id, "error_rate": 0.5}
    runs = []
    for _ in range(2):
        await set_faults(rule, seed=11)  # setting the rules restarts the occurrence counters
        runs.append([outcome(await put_hold(http, order_id, n)) for n in range(24)])
    assert runs[0] == runs[1]
    assert "applied" in runs[0]
    assert set(runs[0]) - {"applied"}


async def test_error_rate_is_roughly_honoured_and_nothing_is_applied_on_failure(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    await set_faults({"upstream": "erp", "operation": "hold.put", "order_prefix": order_id, "error_rate": 0.3})
    responses = [await put_hold(http, order_id, n) for n in range(200)]
    failed = [r for r in responses if r.status_code >= 300]
    assert 30 <= len(failed) <= 90  # 60 expected; these bounds are about 4.5 standard deviations wide
    assert {r.status_code for r in failed} <= TRANSIENT
    assert all(r.headers["Retry-After"] == "1" for r in failed if r.status_code == 429)
    assert all(r.json()["error"]["code"] in ("unavailable", "rate_limited") for r in failed)
    stats = (await http.get("/_sandbox/faults/stats")).json()
    assert stats == {"delayed": 0, "transient": len(failed), "rejected": 0, "timeout_after_apply": 0}
    created = sum(r.status_code == 201 for r in responses)
    assert (await ledger(order_id))["inventory"]["reserved"] == created == 200 - len(failed)

    # A retry with the same key gets a fresh draw: retrying until success converges.
    pending = [n for n, r in enumerate(responses) if r.status_code >= 300]
    for _ in range(10):
        pending = [n for n in pending if (await put_hold(http, order_id, n)).status_code != 201]
    assert pending == []
    assert (await ledger(order_id))["inventory"]["reserved"] == 200


async def test_timeout_after_apply_applies_then_hangs(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    await set_faults(
        {
            "upstream": "payment",
            "operation": "authorize",
            "order_prefix": order_id,
            "timeout_after_apply_rate": 1,
        }
    )
    key = f"{order_id}:payment.authorize:1"
    headers = {**STRIPE, "Idempotency-Key": key}
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/v1/payment_intents", data=authorize_form(order_id), headers=headers, timeout=0.5)
    assert time.monotonic() - started < 1.5

    view = await ledger(order_id)
    assert [(e["effect"], e["idempotency_key"]) for e in view["effects"]] == [("authorize", key)]
    assert (await http.get("/_sandbox/faults/stats")).json()["timeout_after_apply"] == 1
    (await http.delete("/_sandbox/faults")).raise_for_status()
    retried = await http.post("/v1/payment_intents", data=authorize_form(order_id), headers=headers)
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["id"] == view["effects"][0]["ref"]
    assert len((await ledger(order_id))["effects"]) == 1


async def test_smtp_timeout_after_apply_stores_and_a_resend_is_deduplicated(
    sandbox: SandboxProcess, http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    await set_faults({"upstream": "email", "order_prefix": order_id, "timeout_after_apply_rate": 1})
    message_id = make_msgid(domain="hub.test")
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await aiosmtplib.send(email(order_id, message_id), hostname=sandbox.host, port=sandbox.smtp_port, timeout=0.5)
    (await http.delete("/_sandbox/faults")).raise_for_status()
    await aiosmtplib.send(email(order_id, message_id), hostname=sandbox.host, port=sandbox.smtp_port, timeout=5)
    [stored] = (await http.get("/_sandbox/mail", params={"order_id": order_id})).json()
    assert (stored["message_id"], stored["deliveries"]) == (message_id, 2)


async def test_smtp_transient_and_reject(
    sandbox: SandboxProcess, http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    await set_faults({"upstream": "email", "operation": "send", "order_prefix": order_id, "error_rate": 1})
    with pytest.raises(aiosmtplib.SMTPDataError) as transient:
        await aiosmtplib.send(email(order_id, make_msgid()), hostname=sandbox.host, port=sandbox.smtp_port)
    assert transient.value.code == 451
    await set_faults({"upstream": "email", "order_prefix": order_id, "reject": {"code": "x", "message": "no"}})
    with pytest.raises(aiosmtplib.SMTPDataError) as rejected:
        await aiosmtplib.send(email(order_id, make_msgid()), hostname=sandbox.host, port=sandbox.smtp_port)
    assert rejected.value.code == 550
    assert (await http.get("/_sandbox/mail", params={"order_id": order_id})).json() == []


async def test_payment_rejections(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    authorized = await http.post("/v1/payment_intents", data=authorize_form(order_id), headers=STRIPE)
    intent_id = authorized.json()["id"]
    await set_faults(
        {
            "upstream": "payment",
            "operation": "capture",
            "order_prefix": order_id,
            "reject": {"code": "charge_expired_for_capture", "message": "authorization expired"},
        },
        {
            "upstream": "payment",
            "operation": "authorize",
            "order_prefix": order_id,
            "reject": {"code": "card_declined", "decline_code": "do_not_honor", "message": "declined"},
        },
    )
    capture = await http.post(f"/v1/payment_intents/{intent_id}/capture", headers=STRIPE)
    assert capture.status_code == 400
    assert capture.json()["error"]["type"] == "invalid_request_error"
    assert capture.json()["error"]["code"] == "charge_expired_for_capture"

    declined = await http.post("/v1/payment_intents", data=authorize_form(order_id), headers=STRIPE)
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "do_not_honor",
    )

    payment = (await ledger(order_id))["payment"]
    assert (payment["authorized"], payment["captured"]) == (2500, 0)


async def test_carrier_rejections(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    def shipment(reference: str) -> dict[str, Any]:
        address = {"street1": "1 Main St", "city": "Springfield", "zip": "12345", "country": "US"}
        return {
            "shipment": {
                "reference": reference,
                "to_address": address,
                "from_address": address,
                "parcel": {"weight": 8},
            }
        }

    rejected = (await http.post("/v2/shipments", json=shipment(f"{order_id}:shipment:1"), headers=EASYPOST)).json()
    refused = (await http.post("/v2/shipments", json=shipment(f"{order_id}:shipment:2"), headers=EASYPOST)).json()
    bought = await http.post(
        f"/v2/shipments/{refused['id']}/buy",
        json={"rate": {"id": refused["rates"][0]["id"]}},
        headers=EASYPOST,
    )
    assert bought.status_code == 200
    await set_faults(
        {
            "upstream": "carrier",
            "order_prefix": order_id,
            "reject": {"code": "any", "message": "not serviceable"},
        }
    )
    buy = await http.post(
        f"/v2/shipments/{rejected['id']}/buy",
        json={"rate": {"id": rejected["rates"][0]["id"]}},
        headers=EASYPOST,
    )
    assert buy.status_code == 422
    assert buy.json()["error"] == {
        "code": "SHIPMENT.POSTAGE.FAILURE",
        "message": "not serviceable",
        "errors": [],
    }
    refund = await http.post(f"/v2/shipments/{refused['id']}/refund", json={}, headers=EASYPOST)
    assert (refund.status_code, refund.json()["error"]["code"]) == (422, "SHIPMENT.REFUND.REJECTED")
    after = (await http.get(f"/v2/shipments/{refused['id']}", headers=EASYPOST)).json()
    assert after["refund_status"] is None
    assert (await ledger(order_id))["labels"] == {"bought": 1, "voided": 0}
    # A second buy of the bought shipment is answered as usual (postage exists), not counted as a rejection.
    again = await http.post(
        f"/v2/shipments/{refused['id']}/buy",
        json={"rate": {"id": refused["rates"][0]["id"]}},
        headers=EASYPOST,
    )
    assert again.json()["error"]["code"] == "SHIPMENT.POSTAGE.EXISTS"
    assert (await http.get("/_sandbox/faults/stats")).json()["rejected"] == 2


async def test_erp_rejection_uses_the_rule_code(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str, ledger: ReadLedger
) -> None:
    await set_faults(
        {
            "upstream": "erp",
            "operation": "hold.put",
            "order_prefix": order_id,
            "reject": {"code": "out_of_stock"},
        }
    )
    response = await put_hold(http, order_id, 1)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "out_of_stock")
    assert (await ledger(order_id))["effects"] == []


async def test_latency_applies_to_matching_orders_only(
    http: httpx.AsyncClient, set_faults: SetFaults, order_id: str
) -> None:
    await set_faults({"upstream": "erp", "operation": "hold.put", "order_prefix": order_id, "latency_ms": 400})
    started = time.monotonic()
    assert (await put_hold(http, order_id, 1)).status_code == 201
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert (await put_hold(http, f"other-{order_id}", 1)).status_code == 201
    assert time.monotonic() - started < 0.4


@pytest.mark.parametrize(
    "rule",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "timeout_after_apply_rate": 0.6},
        {"upstream": "payment", "operation": "hold.put"},
        {"upstream": "email", "operation": "read"},  # SMTP has no reads
        {"operation": "teleport"},
        {"reject": {"message": "code missing"}},
        {"surprise": True},
    ],
)
async def test_invalid_rules_are_refused(http: httpx.AsyncClient, rule: dict[str, Any]) -> None:
    response = await http.put("/_sandbox/faults", json={"rules": [rule]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert (await http.get("/_sandbox/faults")).json()["rules"] == []
