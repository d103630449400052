"""The same order submitted again, even concurrently or after it finished: one workflow, one charge."""

import asyncio

import pytest

from domain.status import OrderStatus
from hub.client import OrderConflict
from tests.integration.conftest import LiveHub
from tests.orders import make_order


async def test_the_same_order_submitted_concurrently_runs_once_and_charges_once(live_hub: LiveHub) -> None:
    order = make_order()
    placements = await asyncio.gather(*(live_hub.orders.place(order) for _ in range(5)))
    assert sorted(p.created for p in placements) == [False, False, False, False, True]
    assert len({p.handle.id for p in placements}) == 1

    view, ledger, _ = await live_hub.settle(order)
    assert view.status is OrderStatus.COMPLETED

    again = await live_hub.orders.place(order)  # after it finished: still the same order, nothing re-run
    assert again.created is False
    ledger = await live_hub.control.ledger(order.order_id)
    assert [e["effect"] for e in ledger["effects"]].count("authorize") == 1
    assert ledger["payment"]["captured"] == order.total


async def test_the_same_id_with_different_content_is_a_conflict(live_hub: LiveHub) -> None:
    order = make_order()
    await live_hub.orders.place(order)
    different = order.model_copy(update={"payment_method": "pm_card_mastercard"})
    with pytest.raises(OrderConflict):
        await live_hub.orders.place(different)
    await live_hub.settle(order)
