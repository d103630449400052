"""What the payment provider reports reaches the order through the API, end to end (issue 14, scenario 26): a
refund made in the provider's dashboard and a dispute, pushed by the (sandbox) provider as Stripe pushes them,
count in the order's view exactly as the provider's ledger has them."""

from datetime import timedelta

import httpx
from temporalio.client import Client

from domain.order_view import OrderPolicy
from domain.returns import ReturnPolicy
from hub.client import OrderClient
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from tests.api.conftest import ApiHub, until
from tests.orders import BASE, make_order, unique_id


async def test_a_dashboard_refund_and_a_dispute_reach_the_order_as_the_provider_has_them(
    http: httpx.AsyncClient,
    api_hub: ApiHub,
    temporal_client: Client,
    upstreams_push_to_the_api: SandboxControl,
    sandbox: SandboxProcess,
) -> None:
    """Issue 14, scenario 26."""
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
    control = upstreams_push_to_the_api
    try:
        await until(http, order_path, lambda o: o["fulfillment_status"] == "delivered")
        ledger = await control.ledger(order.order_id)
        intent = next(e["ref"] for e in ledger["effects"] if e["upstream"] == "payment" and e["effect"] == "authorize")

        # Someone refunds 50.00 from the provider's dashboard: no hub key on it.
        async with httpx.AsyncClient(
            base_url=sandbox.base_url, headers={"Authorization": "Bearer sk_test_dashboard"}
        ) as dashboard:
            made = await dashboard.post("/v1/refunds", data={"payment_intent": intent, "amount": "5000"})
        assert made.status_code == 200, made.text
        refunded = await until(http, order_path, lambda o: o["refunded"] > 0)
        assert (refunded["refunded"], refunded["payment_status"]) == (5000, "partially_refunded")
        assert (await control.ledger(order.order_id))["payment"]["refunded"] == refunded["refunded"]

        await control.dispute(intent, "fraudulent")
        disputed = await until(http, order_path, lambda o: o["status"] == "requires_action")
        assert disputed["action_required"] == ["payment disputed"]
        assert any(e["step"] == "dispute" and "fraudulent" in (e["detail"] or "") for e in disputed["timeline"])
    finally:
        await placed.handle.terminate("test over")
