"""Assembling a customer's timeline from the views of their orders and RMAs (pure: no I/O here)."""

import re
from datetime import datetime

from domain.customer_timeline import CustomerTimelineItem
from domain.order_view import OrderView
from domain.returns import ReturnView
from domain.timeline import MessageRecord, TimelineEntry

# Every decision recorded by a workflow names where it came from: "changed via store", "opened via phone".
_VIA = re.compile(r"\bvia (web|store|phone|api|warehouse|carrier)\b")


def order_items(view: OrderView, placed_at: datetime) -> list[CustomerTimelineItem]:
    """The order placed, its status changes, the messages it sent and the actions taken on it."""
    items = [
        CustomerTimelineItem(
            at=placed_at,
            kind="order",
            order_id=view.order_id,
            summary=f"order placed: {len(view.lines)} line(s), {view.total} {view.currency} (minor units)",
        )
    ]
    items += _entries(view.timeline, order_id=view.order_id)
    items += _messages(view.messages, order_id=view.order_id)
    return items


def return_items(view: ReturnView, opened_at: datetime) -> list[CustomerTimelineItem]:
    """The RMA opened (with where it stands now), its messages and the actions taken on it."""
    items = [
        CustomerTimelineItem(
            at=opened_at,
            kind="return",
            order_id=view.order_id,
            rma_id=view.rma_id,
            summary=f"{view.kind.value} {view.rma_id} opened, now {view.status.value}",
            channel=view.channel,
        )
    ]
    items += _entries(view.timeline, order_id=view.order_id, rma_id=view.rma_id)
    items += _messages(view.messages, order_id=view.order_id, rma_id=view.rma_id)
    return items


def newest_first(items: list[CustomerTimelineItem]) -> list[CustomerTimelineItem]:
    return sorted(items, key=lambda item: item.at, reverse=True)


def _entries(timeline: list[TimelineEntry], *, order_id: str, rma_id: str | None = None) -> list[CustomerTimelineItem]:
    items: list[CustomerTimelineItem] = []
    for entry in timeline:
        via = _VIA.search(entry.detail or "")
        if via is not None and entry.step != "after_sales":  # an RMA's opening is listed as the RMA itself
            summary = f"{entry.step.replace('_', ' ')}: {entry.detail}"
            items.append(
                CustomerTimelineItem(
                    at=entry.at, kind="action", order_id=order_id, rma_id=rma_id, summary=summary, channel=via[1]
                )
            )
        elif entry.step in ("order_status", "approval"):
            summary = f"status: {entry.detail}" if entry.step == "order_status" else f"approval: {entry.detail}"
            items.append(
                CustomerTimelineItem(at=entry.at, kind="status", order_id=order_id, rma_id=rma_id, summary=summary)
            )
    return items


def _messages(messages: list[MessageRecord], *, order_id: str, rma_id: str | None = None) -> list[CustomerTimelineItem]:
    return [
        CustomerTimelineItem(
            at=message.at,
            kind="message",
            order_id=order_id,
            rma_id=rma_id,
            summary=message.subject or message.kind,
            channel=message.channel,
        )
        for message in messages
    ]
