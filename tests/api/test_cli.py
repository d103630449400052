"""``hub`` (``hub.cli``) against the real API process: what it prints, and its exit codes for each failure."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner, Result

from hub.cli import app
from sandbox.process import free_port
from tests.api.conftest import ApiHub
from tests.api.test_orders_api import order_json, shipment_id_of
from tests.api.webhook_requests import carrier_delivery, erp_shipment_confirmed, payment_dispute
from tests.eventually import eventually
from tests.orders import BASE, unique_id
from tests.servers import serving

runner = CliRunner()


async def hub(api_hub: ApiHub, *args: str, key: str | None = None, **env: str | None) -> Result:
    """Run ``hub ARGS`` in a thread (the API is another process, so blocking here blocks nothing it needs)."""
    environment: dict[str, str | None] = {
        "HUB_API_URL": api_hub.url,
        "HUB_API_KEY": key or api_hub.write_key,
        "HUB_WEBHOOK_SECRET": None,
        "COLUMNS": "200",  # rich tables: no wrapping inside ids and timestamps
        **env,
    }
    return await asyncio.to_thread(runner.invoke, app, list(args), env=environment)


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def failed(result: Result, code: int) -> str:
    """The failure's stderr, after checking its exit code and that no stack trace escaped."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    return result.stderr


def one_line(stderr: str) -> str:
    assert len(stderr.splitlines()) == 1, stderr
    return stderr


def write(tmp_path: Path, content: Any, name: str | None = None) -> Path:
    path = tmp_path / (name or f"{unique_id('F')}.json")
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


async def shown(
    api_hub: ApiHub, order_id: str, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> dict[str, Any]:
    """``hub order show ID --json`` until the order satisfies ``predicate``."""

    async def show() -> dict[str, Any]:
        order: dict[str, Any] = json.loads(succeeded(await hub(api_hub, "order", "show", order_id, "--json")).stdout)
        return order

    return await eventually(show, predicate, what=f"{order_id} to satisfy the condition", timeout_s=timeout_s)


def captured(order: dict[str, Any]) -> bool:
    return bool(order["payment_status"] == "captured")


def shipped_and_at_rest(order: dict[str, Any]) -> bool:
    """Captured, and told: from the shipped message on, the order only waits for its parcel (no webhook is pushed to
    this hub, and it polls hourly), so two reads of it agree. Captured alone is a moment before the stock is
    committed and the message recorded."""
    return captured(order) and any(".order-shipped." in sent for sent in order["messages_sent"])


async def test_place_is_idempotent_and_show_prints_statuses_lines_shipments_and_timeline(
    api_hub: ApiHub, tmp_path: Path
) -> None:
    order = order_json()
    order_id = order["order_id"]
    file = write(tmp_path, order)

    first = succeeded(await hub(api_hub, "order", "place", str(file)))
    assert first.stdout == f"{order_id}: placed, status pending\n"
    again = succeeded(await hub(api_hub, "order", "place", str(file)))
    assert again.stdout.startswith(f"{order_id}: already placed")

    shipped = await shown(api_hub, order_id, shipped_and_at_rest)
    table = succeeded(
        await hub(api_hub, "order", "show", order_id, key=api_hub.read_key)
    ).stdout  # read scope is enough
    shipment = shipped["shipments"][0]
    for expected in (
        order_id,
        "confirmed",
        "captured",
        shipped["fulfillment_status"],
        "138.00 EUR",  # 129.00 + 2 x 4.50
        "PEN-01",
        "9.00 EUR",
        "Shipments",
        shipment["reference"],
        shipment["tracking_code"],
        "Timeline",
    ):
        assert expected in table, (expected, table)
    assert shipped["timeline"]
    for entry in shipped["timeline"]:
        assert entry["step"] in table and entry["outcome"] in table

    raw = json.loads(succeeded(await hub(api_hub, "order", "show", order_id, "--json")).stdout)
    assert raw["order_id"] == order_id and raw["total"] == 13800 and raw["timeline"] == shipped["timeline"]


async def test_orders_are_listed_by_customer_once_visible(api_hub: ApiHub, tmp_path: Path) -> None:
    customer = unique_id("CLI")
    ids = sorted(unique_id("LIST") for _ in range(2))
    for order_id in ids:
        file = write(tmp_path, order_json(order_id, customer={**BASE["customer"], "id": customer}))
        succeeded(await hub(api_hub, "order", "place", str(file)))

    async def listed() -> dict[str, Any]:
        page: dict[str, Any] = json.loads(
            succeeded(await hub(api_hub, "order", "list", "--customer", customer, "--json")).stdout
        )
        return page

    await eventually(  # the list comes from Temporal's visibility store, which lags writes a little
        listed, lambda page: sorted(item["order_id"] for item in page["items"]) == ids, what="both orders listed"
    )

    table = succeeded(await hub(api_hub, "order", "list", "--customer", customer, "--limit", "10")).stdout
    assert all(order_id in table for order_id in ids) and customer in table
    limited = json.loads(
        succeeded(await hub(api_hub, "order", "list", "--customer", customer, "--limit", "1", "--json")).stdout
    )
    assert len(limited["items"]) == 1
    nobody = succeeded(await hub(api_hub, "order", "list", "--customer", unique_id("NOBODY")))
    assert nobody.stdout.startswith("No orders for customer")

    unknown_status = failed(await hub(api_hub, "order", "list", "--customer", customer, "--status", "lost"), 2)
    assert "422" in unknown_status and "\n  query.status: " in unknown_status


async def test_cancelling_a_shipped_order_is_refused_with_the_hubs_reason(api_hub: ApiHub, tmp_path: Path) -> None:
    order = order_json()
    succeeded(await hub(api_hub, "order", "place", str(write(tmp_path, order))))
    await shown(api_hub, order["order_id"], captured)

    refused = one_line(
        failed(await hub(api_hub, "order", "cancel", order["order_id"], "--reason", "changed my mind"), 1)
    )
    assert "409" in refused and "order has shipped; start a return instead" in refused
    assert (await shown(api_hub, order["order_id"], captured))["status"] == "confirmed"  # nothing changed

    unknown = one_line(failed(await hub(api_hub, "order", "show", unique_id("NOPE")), 1))
    assert "404" in unknown and "Order not found" in unknown


async def test_an_operator_retry_of_an_order_nothing_waits_on_is_refused_with_the_hubs_reason(
    api_hub: ApiHub, tmp_path: Path
) -> None:
    """``hub order retry`` is the documented action for an order in ``requires_action`` (issue 14)."""
    order = order_json()
    succeeded(await hub(api_hub, "order", "place", str(write(tmp_path, order))))
    await shown(api_hub, order["order_id"], captured)
    refused = one_line(failed(await hub(api_hub, "order", "retry", order["order_id"], "--note", "checked"), 1))
    assert "409" in refused and "nothing in this order is waiting for a person" in refused


async def test_cancelling_an_order_that_already_ended_is_refused(api_hub: ApiHub, tmp_path: Path) -> None:
    order = order_json(payment_method="pm_card_chargeDeclined")  # ends by itself; a cancel then finds it ended
    succeeded(await hub(api_hub, "order", "place", str(write(tmp_path, order))))
    await shown(api_hub, order["order_id"], lambda o: o["status"] == "canceled")
    too_late = one_line(failed(await hub(api_hub, "order", "cancel", order["order_id"]), 1))
    assert "409" in too_late and "Cancellation refused" in too_late


async def test_bad_input_exits_2_naming_each_invalid_field(api_hub: ApiHub, tmp_path: Path) -> None:
    invalid = order_json(currency="ABC", lines=[{"sku": "PEN-01", "quantity": 0, "unit_price": 12900}])
    stderr = failed(await hub(api_hub, "order", "place", str(write(tmp_path, invalid))), 2)
    first, *fields = stderr.splitlines()
    assert "422" in first and "2 invalid field(s)" in first
    assert sorted(line.split(":")[0].strip() for line in fields) == ["currency", "lines.0.quantity"]
    assert all(line.split(":", 1)[1].strip() for line in fields)  # each with its reason

    missing = one_line(failed(await hub(api_hub, "order", "place", str(tmp_path / "nowhere.json")), 2))
    assert "cannot read" in missing and "nowhere.json" in missing
    not_json = one_line(failed(await hub(api_hub, "order", "place", str(write(tmp_path, b"{order: 1"))), 2))
    assert "is not valid JSON" in not_json

    unknown_source = failed(
        await hub(api_hub, "webhook", "send", "fedex", str(write(tmp_path, {})), "--secret", "s"), 2
    )
    assert "unknown webhook source 'fedex'" in one_line(unknown_source)


async def test_keys_are_checked_exit_4_saying_which(api_hub: ApiHub, tmp_path: Path) -> None:
    file = write(tmp_path, order_json())
    wrong = one_line(failed(await hub(api_hub, "order", "place", str(file), key="not-a-key"), 4))
    assert "not authorised" in wrong and "401" in wrong and "HUB_API_KEY" in wrong
    read_only = one_line(failed(await hub(api_hub, "order", "place", str(file), key=api_hub.read_key), 4))
    assert "forbidden" in read_only and "403" in read_only and "orders:write" in read_only
    via_option = await hub(api_hub, "--api-key", "also-wrong", "order", "show", "X-1", key=api_hub.write_key)
    assert "401" in one_line(failed(via_option, 4))  # the option overrides the environment


async def test_an_unreachable_api_exits_3_naming_the_url(api_hub: ApiHub) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = await hub(api_hub, "--api-url", url, "order", "show", "X-1")
    assert url in one_line(failed(result, 3)) and "cannot reach" in result.stderr


async def test_webhook_send_signs_a_carrier_event_that_moves_the_order(api_hub: ApiHub, tmp_path: Path) -> None:
    order = order_json()
    order_id = order["order_id"]
    succeeded(await hub(api_hub, "order", "place", str(write(tmp_path, order))))
    await shown(api_hub, order_id, captured)

    secret = api_hub.settings.api.webhooks.carrier.get_secret_value()  # type: ignore[union-attr]
    body, _ = carrier_delivery(secret, await shipment_id_of(api_hub, order_id))  # the CLI signs it itself
    event = write(tmp_path, body)

    forged = await hub(api_hub, "webhook", "send", "carrier", str(event), "--secret", "not-the-secret")
    assert "401" in one_line(failed(forged, 4)) and "not authorised" in forged.stderr
    assert forged.stdout.startswith("401 ")
    assert (await shown(api_hub, order_id, captured))["fulfillment_status"] != "delivered"

    sent = succeeded(await hub(api_hub, "webhook", "send", "carrier", str(event), HUB_WEBHOOK_SECRET=secret))
    status_line, answer = sent.stdout.split("\n", 1)
    assert status_line == "202 Accepted"
    assert json.loads(answer)["outcome"] == "delivered"

    done = await shown(api_hub, order_id, lambda o: o["status"] == "completed")
    assert done["fulfillment_status"] == "delivered"

    # Sent again, as a sender retries after a lost answer: acknowledged as a duplicate, nothing moves twice.
    replayed = succeeded(await hub(api_hub, "webhook", "send", "carrier", str(event), "--secret", secret))
    status_line, answer = replayed.stdout.split("\n", 1)
    assert (status_line, json.loads(answer)["outcome"]) == ("202 Accepted", "duplicate")


async def test_webhook_send_signs_erp_and_payment_events_as_those_upstreams_do(api_hub: ApiHub, tmp_path: Path) -> None:
    secrets = api_hub.settings.api.webhooks
    erp, payment = (getattr(secrets, source).get_secret_value() for source in ("erp", "payment"))
    order = order_json()
    succeeded(await hub(api_hub, "order", "place", str(write(tmp_path, order))))
    await shown(api_hub, order["order_id"], captured)

    confirmed = write(tmp_path, erp_shipment_confirmed(erp, order["order_id"])[0])
    for _ in range(2):  # each send is a new Standard Webhooks message (fresh msg_ id), so neither is a replay
        sent = succeeded(await hub(api_hub, "webhook", "send", "erp", str(confirmed), "--secret", erp))
        assert sent.stdout.startswith("202 Accepted\n")
        answer = json.loads(sent.stdout.split("\n", 1)[1])
        # Accepted and verified; the order made the commit itself, so it is not signalled (a billed action).
        assert answer["outcome"] == "ignored" and answer["event_id"].startswith("erp:msg_")
    not_whsec = await hub(api_hub, "webhook", "send", "erp", str(confirmed), "--secret", "not base64!")
    assert "invalid ERP secret" in one_line(failed(not_whsec, 2))

    # The Stripe signature is accepted (a bad one would be 401); the payment is not the hub's: acknowledged.
    dispute = write(tmp_path, payment_dispute(payment, "pi_unknown")[0])
    unknown = succeeded(await hub(api_hub, "webhook", "send", "payment", str(dispute), "--secret", payment))
    assert json.loads(unknown.stdout.split("\n", 1)[1])["outcome"] == "not_routed"
    forged = await hub(api_hub, "webhook", "send", "payment", str(dispute), "--secret", "whsec_wrong")
    assert "401" in one_line(failed(forged, 4))
    no_secret = await hub(api_hub, "webhook", "send", "payment", str(dispute))
    assert "HUB_WEBHOOK_SECRET" in one_line(failed(no_secret, 2))


def test_python_m_hub_cli_runs_the_app(api_hub: ApiHub) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--api-url", api_hub.url, "order", "show", unique_id("NOPE")],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("HUB_")}, "HUB_API_KEY": api_hub.read_key},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.startswith("error: refused: 404") and completed.stderr.count("\n") == 1


async def test_an_api_that_answers_503_exits_3_so_a_script_retries(api_hub: ApiHub) -> None:
    async def unavailable(request: Request) -> Response:
        body = {"type": "about:blank", "title": "Temporarily unavailable", "status": 503}
        return JSONResponse(body, status_code=503, media_type="application/problem+json", headers={"Retry-After": "2"})

    async with serving(Starlette(routes=[Route("/orders/{id}", unavailable)])) as url:
        result = await hub(api_hub, "--api-url", url, "order", "show", "X-1")
    stderr = one_line(failed(result, 3))
    assert "503 Temporarily unavailable" in stderr and "retry after 2 s" in stderr
