"""The invariants of ``hub.dev.invariants`` over the in-memory fakes: what a workflow test or a generated scenario
calls once an order has come to rest, as the integration tests and the chaos run do over the sandbox."""

from collections.abc import Sequence
from typing import Any

from temporalio.client import WorkflowHandle

from hub.client import OrderClient
from hub.dev.invariants import Books, Violation, check
from tests.fakes import Effects, FakeNotifier, FakePublisher


def fake_books(effects: Effects, notifier: FakeNotifier, publisher: FakePublisher, order_id: str) -> Books:
    """What the fakes did for ``order_id``: their ledger (the sandbox's shape), the messages sent and the status
    events published (when the policy publishes them)."""
    statuses = [event.status.value for event in publisher.events if event.order_id == order_id]
    return Books.from_ledger(effects.ledger.view(order_id), notifier.mail(order_id), statuses or None)


async def search_attributes(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """A workflow's search attributes by name (where a ``requires_action`` shows its reason)."""
    description = await handle.describe()
    return {pair.key.name: pair.value for pair in description.typed_search_attributes}


async def order_violations(
    orders: OrderClient,
    effects: Effects,
    notifier: FakeNotifier,
    publisher: FakePublisher,
    order_id: str,
    *,
    unanswered: Sequence[str] = (),
) -> list[Violation]:
    """Every invariant the order and its RMAs break, as they stand now (call it once they rest)."""
    view = await orders.view(order_id)
    rmas = [await orders.return_view(rma_id) for rma_id in view.returns]
    books = fake_books(effects, notifier, publisher, order_id)
    attributes = await search_attributes(orders.handle(order_id))
    rma_attributes = {rma.rma_id: await search_attributes(orders.return_handle(rma.rma_id)) for rma in rmas}
    return check(view, books, rmas, attributes=attributes, rma_attributes=rma_attributes, unanswered=unanswered)
