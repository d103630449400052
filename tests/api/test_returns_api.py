"""RMAs over HTTP: invalid requests never reach a workflow, and a delivered order takes a return end to end —
opened through the order, its label's scans pushed by the (sandbox) carrier, received in store, refunded."""

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.order_view import OrderPolicy
from domain.returns import ReturnPolicy
from hub.client import OrderClient
from sandbox.client import SandboxControl
from tests.api.conftest import ApiHub, until
from tests.api.test_cli import failed, hub, succeeded, write
from tests.orders import BASE, make_order, unique_id

PROBLEM = "application/problem+json"


def rma(rma_id: str | None = None, **changes: Any) -> dict[str, Any]:
    return {"rma_id": rma_id or unique_id("RMA"), "lines": [{"sku": "PEN-01", "quantity": 1}], **changes}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (rma(lines=[]), "lines"),
        (rma(rma_id="R 1"), "rma_id"),
        (rma(lines=[{"sku": "PEN-01", "quantity": 0}]), "lines.0.quantity"),
        (rma(lines=[{"sku": "PEN-01", "quantity": 1.5}]), "lines.0.quantity"),
        (rma(kind="claim"), "body"),  # a claim names its reason
        (rma(kind="return", claim_reason="damaged"), "body"),
        (rma(lines=[{"sku": "PEN-01", "quantity": 1}, {"sku": "PEN-01", "quantity": 2}]), "body"),
        (rma(kind="swap"), "kind"),
        (rma(refund_to="iban"), "refund_to"),
    ],
)
async def test_an_invalid_rma_is_refused_with_the_field_before_any_order_is_asked(
    http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    answer = await http.post("/orders/NO-SUCH-ORDER/returns", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert field in [error["field"] for error in answer.json()["errors"]]


async def test_invalid_decisions_and_unknown_rmas(http: httpx.AsyncClient, api_hub: ApiHub) -> None:
    bad_id = await http.post("/returns/R%201/received", json={})
    bad_line = await http.post("/returns/R-1/received", json={"lines": [{"sku": "PEN-01", "quantity": -1}]})
    bad_disposition = await http.post(
        "/returns/R-1/received", json={"lines": [{"sku": "PEN-01", "quantity": 1, "disposition": "lost"}]}
    )
    no_operator = await http.post("/returns/R-1/approval", json={"approved": True})
    assert [a.status_code for a in (bad_id, bad_line, bad_disposition, no_operator)] == [422] * 4
    assert [e["field"] for e in no_operator.json()["errors"]] == ["operator"]

    missing = unique_id("RMA")
    for method, path, body in [
        ("GET", f"/returns/{missing}", None),
        ("POST", f"/returns/{missing}/received", {}),
        ("POST", f"/returns/{missing}/label/resend", None),
        ("POST", f"/returns/{missing}/approval", {"approved": False, "operator": "ops.lea"}),
        ("POST", f"/returns/{missing}/cancel", None),
    ]:
        answer = await http.request(method, path, json=body)
        assert (answer.status_code, answer.headers["content-type"]) == (404, PROBLEM), (path, answer.text)
    unknown_order = await http.post("/orders/NO-SUCH-ORDER/returns", json=rma())
    assert unknown_order.status_code == 404 and unknown_order.json()["title"] == "Order not found"

    async with httpx.AsyncClient(base_url=api_hub.url) as anonymous:
        read_only = await anonymous.post("/orders/A-1/returns", json=rma(), headers=api_hub.headers(api_hub.read_key))
        nobody = await anonymous.get(f"/returns/{missing}")
    assert (read_only.status_code, nobody.status_code) == (403, 401)


async def test_a_delivered_order_takes_a_return_end_to_end(
    http: httpx.AsyncClient,
    api_hub: ApiHub,
    temporal_client: Client,
    upstreams_push_to_the_api: SandboxControl,
) -> None:
    # The order is started on the API's worker with a return window of its own (the API's policy is not this
    # test's business); everything after that goes through HTTP and the upstreams' webhooks.
    orders = OrderClient(
        temporal_client,
        task_queue=api_hub.settings.temporal.task_queue,
        policy=OrderPolicy(
            tracking_poll_interval=timedelta(milliseconds=500),
            returns=ReturnPolicy(window=timedelta(hours=1), damaged_refund_percent=50),
        ),
    )
    order = make_order(customer={**BASE["customer"], "id": unique_id("C")})
    placed = await orders.place(order)
    order_path = f"/orders/{order.order_id}"
    try:
        await until(http, order_path, lambda o: o["fulfillment_status"] == "delivered")
        request = rma(lines=[{"sku": "PEN-01", "quantity": 1}, {"sku": "INK-07", "quantity": 2}], reason="too big")

        opened = await http.post(f"{order_path}/returns", json=request)
        assert opened.status_code == 201, opened.text
        assert opened.headers["Location"] == f"/returns/{request['rma_id']}"
        assert (opened.json()["status"], opened.json()["order_id"]) == ("requested", order.order_id)
        again = await http.post(f"{order_path}/returns", json=request)
        assert again.status_code == 200 and again.json()["rma_id"] == request["rma_id"]
        other = await http.post(f"{order_path}/returns", json={**request, "lines": [{"sku": "PEN-01", "quantity": 1}]})
        assert (other.status_code, other.json()["title"]) == (409, "Return conflict")
        too_many = await http.post(f"{order_path}/returns", json=rma(lines=[{"sku": "INK-07", "quantity": 1}]))
        assert too_many.status_code == 409 and "INK-07" in too_many.json()["detail"]

        rma_path = f"/returns/{request['rma_id']}"
        # The sandbox carrier moves the return parcel and pushes its scans to the API, which routes them by the
        # RMA named in the label's reference.
        arrived = await until(
            http,
            rma_path,
            lambda r: (r["return_shipment"] or {}).get("status") == "delivered",
        )
        assert arrived["status"] == "in_transit" and arrived["refunded"] == 0  # delivered is not yet received
        resent = await http.post(f"{rma_path}/label/resend", json={"requested_via": "phone"})
        assert resent.status_code == 200, resent.text
        assert [m.split(".")[1] for m in resent.json()["messages_sent"]] == ["return-label", "return-label"]

        # Issue 14, scenario 25: the pen listed twice is refused at the edge, naming the line that goes over.
        twice = await http.post(
            f"{rma_path}/received",
            json={"lines": [{"sku": "PEN-01", "quantity": 1}, {"sku": "PEN-01", "quantity": 1}]},
        )
        assert (twice.status_code, twice.headers["content-type"]) == (422, PROBLEM), twice.text
        assert [e["field"] for e in twice.json()["errors"]] == ["lines.1.quantity"]
        received = await http.post(
            f"{rma_path}/received",
            json={
                "received_via": "store",
                "location": "Paris Opera",
                "lines": [
                    {"sku": "PEN-01", "quantity": 1},
                    {"sku": "INK-07", "quantity": 2, "disposition": "damaged"},
                ],
            },
        )
        assert received.status_code == 200, received.text
        settled = received.json()
        assert (settled["status"], settled["refunded"]) == ("refunded", 12900 + 450)
        late = await http.post(f"{rma_path}/cancel")
        assert late.status_code == 409 and late.json()["detail"] == "the return is already refunded"

        ledger = await upstreams_push_to_the_api.ledger(order.order_id)
        assert ledger["payment"]["captured"] - ledger["payment"]["refunded"] == order.total - (12900 + 450)
        assert ledger["return_labels"] == {"bought": 1, "voided": 0}
        assert ledger["returns"] == {"received": 3}
        mail = await upstreams_push_to_the_api.mail(order.order_id)
        label_url = arrived["return_shipment"]["label_url"]
        assert sum(label_url in m["body"] for m in mail) == 2  # the label reached the customer, twice
        after = await until(http, order_path, lambda o: o["payment_status"] == "partially_refunded")
        assert request["rma_id"] in after["returns"]
        shown = succeeded(await hub(api_hub, "returns", "show", request["rma_id"]))
        assert f"{request['rma_id']} (return of order {order.order_id}): refunded, 133.50 EUR" in shown.stdout
        assert "Returned: 2 x INK-07 (damaged)" in shown.stdout
    finally:
        await placed.handle.terminate("test over")


async def test_an_exchange_cannot_be_cancelled_once_its_replacement_ships(
    http: httpx.AsyncClient, api_hub: ApiHub, temporal_client: Client
) -> None:
    orders = OrderClient(
        temporal_client,
        task_queue=api_hub.settings.temporal.task_queue,
        policy=OrderPolicy(
            tracking_poll_interval=timedelta(milliseconds=500), returns=ReturnPolicy(window=timedelta(hours=1))
        ),
    )
    order = make_order(customer={**BASE["customer"], "id": unique_id("C")})
    placed = await orders.place(order)
    order_path = f"/orders/{order.order_id}"
    request = rma(kind="exchange", reason="wrong colour")
    try:
        await until(http, order_path, lambda o: o["fulfillment_status"] == "delivered")
        assert (await http.post(f"{order_path}/returns", json=request)).status_code == 201
        rma_path = f"/returns/{request['rma_id']}"
        issued = await until(http, rma_path, lambda r: r["status"] == "label_issued")
        assert issued["replacement_shipment"]["tracking_code"]

        refused = await http.post(f"{rma_path}/cancel", json={"reason": "finance wants to refund"})
        assert refused.status_code == 409
        assert refused.json()["detail"] == "too late to cancel: the replacement has shipped"
        view = (await http.get(rma_path)).json()
        assert (view["status"], view["refunded"]) == ("label_issued", 0)
    finally:
        with contextlib.suppress(RPCError):  # the exchange waits for its item; the order for its window
            await temporal_client.get_workflow_handle(f"return:{request['rma_id']}").terminate("test over")
        await placed.handle.terminate("test over")


async def test_the_cli_opens_and_shows_rmas_and_reports_refusals(api_hub: ApiHub, tmp_path: Path) -> None:
    missing = failed(await hub(api_hub, "returns", "show", unique_id("RMA")), 1)
    assert "refused: 404 Return not found" in missing
    no_order = failed(await hub(api_hub, "returns", "open", "NO-SUCH-ORDER", str(write(tmp_path, rma()))), 1)
    assert "404 Order not found" in no_order
    invalid = failed(await hub(api_hub, "returns", "open", "A-1", str(write(tmp_path, rma(lines=[])))), 2)
    assert "lines" in invalid
    assert "resend" in succeeded(await hub(api_hub, "returns", "--help")).stdout


async def test_a_return_on_an_order_declined_at_payment_is_refused_because_nothing_was_delivered(
    http: httpx.AsyncClient,
) -> None:
    """Issue 14, scenario 31: the refusal named a return window that never opened instead of the real reason."""
    order = {**BASE, "order_id": unique_id("API"), "payment_method": "pm_card_chargeDeclined"}
    assert (await http.post("/orders", json=order)).status_code == 201
    order_path = f"/orders/{order['order_id']}"
    await until(http, order_path, lambda o: o["finished"] and o["status"] == "canceled")

    refused = await http.post(f"{order_path}/returns", json=rma())
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM), refused.text
    assert refused.json()["title"] == "Return refused"
    assert refused.json()["detail"] == "nothing in this order was delivered: it was canceled (payment_declined)"
