"""Demo orders: the happy path and every failure path, each with the ending it must reach.

The faults are injected in the sandbox by order id, so each scenario's upstreams misbehave only for its order.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from domain.backorder import BackorderChoice
from domain.order import Order
from domain.order_view import FailureReason, OrderView
from domain.status import OrderStatus, PaymentStatus
from hub.dev.invariants import Books, check
from sandbox.client import SandboxControl

SOLD_OUT_SKU = "LAMP-SOLD-OUT"


def _order(order_id: str, *, payment_method: str = "pm_card_visa", sku: str = "PEN-01") -> Order:
    return Order.model_validate(
        {
            "order_id": order_id,
            "customer": {"id": "C-DEMO", "email": "ana@example.com", "name": "Ana Martin", "locale": "fr-FR"},
            "currency": "EUR",
            "lines": [
                {"sku": sku, "quantity": 1, "unit_price": 12900},
                {"sku": "INK-07", "quantity": 2, "unit_price": 450},
            ],
            "shipping_address": {
                "line1": "3 rue des Lilas",
                "city": "Paris",
                "postal_code": "75011",
                "country": "FR",
            },
            "payment_method": payment_method,
        }
    )


@dataclass
class Scenario:
    name: str
    expected: OrderStatus
    reason: FailureReason | None = None
    payment_method: str = "pm_card_visa"
    sku: str = "PEN-01"
    rules: list[dict[str, Any]] = field(default_factory=list)
    """Sandbox fault rules for this scenario's order (``order_prefix`` is filled in)."""
    cancel_after_authorize: bool = False
    backorder_choice: BackorderChoice | None = None
    """When stock is short, the customer's answer (story 4), sent as soon as they are asked."""


SCENARIOS = [
    Scenario("happy", OrderStatus.COMPLETED),
    Scenario(
        "flaky-upstreams",
        OrderStatus.COMPLETED,
        rules=[{"upstream": "*", "operation": "*", "error_rate": 0.3}],
    ),
    Scenario(
        "declined",
        OrderStatus.CANCELED,
        FailureReason.PAYMENT_DECLINED,
        payment_method="pm_card_chargeDeclined",
    ),
    # Story 4: the pen is out of stock; the customer is asked at once and drops it; the ink ships, the pen is
    # never charged.
    Scenario(
        "backorder-drop-missing",
        OrderStatus.COMPLETED,
        sku=SOLD_OUT_SKU,
        backorder_choice=BackorderChoice.CANCEL_MISSING,
    ),
    Scenario(
        "label-rejected",
        OrderStatus.CANCELED,
        FailureReason.LABEL_REJECTED,
        rules=[
            {
                "upstream": "carrier",
                "operation": "shipment.buy",
                "reject": {"code": "SHIPMENT.POSTAGE.FAILURE", "message": "address not serviceable"},
            }
        ],
    ),
    Scenario(
        "capture-failed",
        OrderStatus.CANCELED,
        FailureReason.CAPTURE_FAILED,
        rules=[
            {
                "upstream": "payment",
                "operation": "capture",
                "reject": {"code": "charge_expired_for_capture", "message": "authorization expired"},
            }
        ],
    ),
    Scenario(
        "customer-cancels",
        OrderStatus.CANCELED,
        FailureReason.CANCELED_BY_CUSTOMER,
        # Slow stock reservation leaves time for the customer's cancellation to arrive mid-saga.
        rules=[{"upstream": "erp", "operation": "hold.put", "latency_ms": 1500}],
        cancel_after_authorize=True,
    ),
]


@dataclass
class Result:
    scenario: Scenario
    order: Order
    view: OrderView | None
    mail: list[dict[str, Any]]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def run_scenarios(api_url: str, api_key: str, sandbox_url: str, timeout_s: float = 90.0) -> list[Result]:
    """Place every scenario's order through the HTTP API, as a retailer's backend would, and wait for each end."""
    tag = time.strftime("D%H%M%S")  # fresh ids each run: the SQLite history keeps earlier runs' orders
    orders = {s.name: _order(f"{tag}-{s.name}", payment_method=s.payment_method, sku=s.sku) for s in SCENARIOS}
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        SandboxControl(sandbox_url) as sandbox,
        httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as api,
    ):
        await sandbox.set_faults(
            [{**rule, "order_prefix": orders[s.name].order_id} for s in SCENARIOS for rule in s.rules]
        )
        await sandbox.set_stock(SOLD_OUT_SKU, 0)
        results = await asyncio.gather(*(_play(api, sandbox, s, orders[s.name], timeout_s) for s in SCENARIOS))
    return list(results)


async def _play(
    api: httpx.AsyncClient, sandbox: SandboxControl, scenario: Scenario, order: Order, timeout_s: float
) -> Result:
    problems: list[str] = []
    view: OrderView | None = None
    try:
        (await api.post("/orders", json=order.model_dump(mode="json"))).raise_for_status()
        if scenario.cancel_after_authorize:
            await _until(api, order.order_id, lambda v: v.payment_status is PaymentStatus.AUTHORIZED, timeout_s)
            (await api.post(f"/orders/{order.order_id}/cancel", json={"reason": "changed my mind"})).raise_for_status()
        if scenario.backorder_choice is not None:
            await _until(api, order.order_id, lambda v: v.status is OrderStatus.REQUIRES_ACTION, timeout_s)
            decision = {"choice": scenario.backorder_choice.value}
            (await api.post(f"/orders/{order.order_id}/backorder-decision", json=decision)).raise_for_status()
        # Delivered orders stay open through their return window: "completed" is as far as the demo waits, and
        # then until the delivery notice is recorded (the status turns completed before that message is sent).
        view = await _until(api, order.order_id, _settled, timeout_s)
    except Exception as error:  # the demo reports every failure rather than stopping at the first
        problems.append(f"{type(error).__name__}: {error}")
    mail = await sandbox.mail(order.order_id)
    if view is not None:
        if view.status is not scenario.expected or view.failure_reason is not scenario.reason:
            problems.append(
                f"ended {view.status.value}/{view.failure_reason}, expected {scenario.expected.value}/{scenario.reason}"
            )
        problems += [str(found) for found in check(view, Books.from_ledger(await sandbox.ledger(order.order_id), mail))]
    return Result(scenario, order, view, mail, problems)


def _settled(view: OrderView) -> bool:
    delivered_notice_sent = any(".order-delivered." in sent for sent in view.messages_sent)
    return view.finished or (view.status is OrderStatus.COMPLETED and delivered_notice_sent)


async def _until(
    api: httpx.AsyncClient, order_id: str, reached: Callable[[OrderView], bool], timeout_s: float
) -> OrderView:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await api.get(f"/orders/{order_id}")
        if response.status_code == 200 and reached(view := OrderView.model_validate(response.json())):
            return view
        if time.monotonic() > deadline:
            raise TimeoutError(f"order {order_id} did not get there in {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


def print_summary(results: list[Result], sandbox_url: str, ui_port: int) -> bool:
    print()
    print(f"{'order':<28} {'outcome':<34} {'compensated':<44} messages  ok")
    for r in results:
        v = r.view
        outcome = f"{v.status.value}" + (f" ({v.failure_reason.value})" if v and v.failure_reason else "") if v else "-"
        undone = ", ".join(v.compensations) if v and v.compensations else "-"
        subjects = "; ".join(m["subject"] for m in r.mail)
        print(f"{r.order.order_id:<28} {outcome:<34} {undone:<44} {len(r.mail):<9} {'yes' if r.ok else 'NO'}")
        print(f"{'':<28} mail: {subjects}")
        for problem in r.problems:
            print(f"{'':<28} !! {problem}")
    ok = all(r.ok for r in results)
    print()
    print(f"{sum(r.ok for r in results)}/{len(results)} demo orders ended as expected.")
    print("Where to look:")
    print(
        f"  Temporal Web UI   http://localhost:{ui_port}/namespaces/default/workflows?query=CustomerId%3D%22C-DEMO%22"
    )
    print(f"  money and stock   {sandbox_url}/_sandbox/ledger?order_id={results[0].order.order_id}")
    print(f"  customer mail     {sandbox_url}/_sandbox/mail?order_id={results[0].order.order_id}")
    return ok
