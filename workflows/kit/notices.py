"""Telling the customer: one activity per notice, under the notice's deterministic id, and a record of what went
out (channel, subject, time) for support and the customer timeline. A message that cannot be delivered does not
undo anything: it is on the timeline for follow-up."""

from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.timeline import MessageRecord
    from notifications.notice import CustomerNotice
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.journal import Journal


class SentMessages(Protocol):
    messages_sent: list[str]
    """Notification ids delivered, in order: numbered per kind, so a resend is a new message."""
    messages: list[MessageRecord]


def next_seq(sent: SentMessages, prefix: str) -> int:
    """The number of the next notice whose ids start with ``prefix`` (``A-1.order-shipped.``)."""
    return 1 + sum(notification_id.startswith(prefix) for notification_id in sent.messages_sent)


async def send_notice(journal: Journal, sent: SentMessages, notice: CustomerNotice) -> bool:
    """Deliver ``notice``; True once delivered (and recorded in ``sent``)."""
    step = f"notify_{notice.kind.value}"
    try:
        delivery = await workflow.execute_activity_method(
            NotificationActivities.notify,
            notice,
            summary=f"Telling the customer: {notice.kind.value}",
            **policies.NOTIFY,
        )
    except ActivityError as error:
        journal.record(step, "failed", error_text(error))
        return False
    sent.messages_sent.append(notice.notification_id)
    sent.messages.append(
        MessageRecord(
            notification_id=notice.notification_id,
            kind=notice.kind.value,
            channel=delivery.sent_on,
            subject=delivery.subject,
            at=workflow.now(),
        )
    )
    journal.record(step, "succeeded")
    return True
