"""Upstreams that fail: transient errors are retried to completion, lost answers are reconciled, and no side
effect is ever applied twice (the sandbox ledger counts what really happened)."""

import asyncio
from collections import Counter

import pytest

from domain.order import Order
from domain.status import OrderStatus
from tests.integration.conftest import LiveHub
from tests.orders import make_order, unique_id

EXPECTED_EFFECTS = {"authorize": 1, "reserve": 1, "label.buy": 1, "capture": 1, "commit": 1}


async def _place_all_and_check(live_hub: LiveHub, orders: list[Order]) -> None:
    await asyncio.gather(*(live_hub.orders.place(order) for order in orders))
    for order in orders:
        view, ledger, mail = await live_hub.settle(order, timeout_s=120)
        assert view.status is OrderStatus.COMPLETED, (order.order_id, view.timeline)
        effects = Counter(effect["effect"] for effect in ledger["effects"])
        assert {kind: effects[kind] for kind in EXPECTED_EFFECTS} == EXPECTED_EFFECTS, order.order_id
        assert effects["void"] == effects["release"] == effects["label.void"] == effects["refund"] == 0
        assert sorted(m["message_id"].strip("<>").split("@")[0] for m in mail) == sorted(view.messages_sent)
        await live_hub.assert_books_balance(order, view)


async def _transient_faults_everywhere(live_hub: LiveHub, count: int) -> None:
    prefix = unique_id("FLAKY")
    await live_hub.control.set_faults(
        [{"upstream": "*", "operation": "*", "order_prefix": prefix, "error_rate": 0.3, "faults_per_request": 3}]
    )
    await _place_all_and_check(live_hub, [make_order(f"{prefix}-{n}") for n in range(count)])
    assert (await live_hub.control.fault_stats())["transient"] > count  # faults really were injected


async def test_thirty_percent_transient_faults_on_every_upstream_all_orders_complete(
    live_hub: LiveHub,
) -> None:
    await _transient_faults_everywhere(live_hub, count=12)


@pytest.mark.slow
async def test_thirty_percent_transient_faults_soak(live_hub: LiveHub) -> None:
    await _transient_faults_everywhere(live_hub, count=100)


async def test_timeout_after_the_upstream_applied_the_change_never_doubles_it(live_hub: LiveHub) -> None:
    """The sandbox applies the change, then holds the answer past the adapter's timeout: the outcome is unknown
    to the hub, which must look its reference up instead of charging or buying twice."""
    prefix = unique_id("LOST")
    mutations = ["authorize", "capture", "shipment.create", "shipment.buy", "hold.put", "hold.commit", "send"]
    await live_hub.control.set_faults(
        [
            {
                "upstream": "*",
                "operation": operation,
                "order_prefix": prefix,
                "timeout_after_apply_rate": 0.5,
                "faults_per_request": 2,
            }
            for operation in mutations
        ]
    )
    await _place_all_and_check(live_hub, [make_order(f"{prefix}-{n}") for n in range(6)])
    assert (await live_hub.control.fault_stats())["timeout_after_apply"] >= 6
