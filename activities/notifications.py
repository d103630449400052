"""Customer notification activity: render the notice, send it under its deterministic id."""

from temporalio import activity

from connectors.ports import Notifier
from domain.notification import Delivery, OutboundMessage
from notifications.notice import CustomerNotice
from notifications.render import render


class NotificationActivities:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    @activity.defn(name="notify_customer")
    async def notify(self, notice: CustomerNotice) -> Delivery:
        rendered = render(notice)
        delivery = await self._notifier.send(
            OutboundMessage(
                notification_id=notice.notification_id,
                order_id=notice.order_id,
                recipient=str(notice.customer.email),
                subject=rendered.subject,
                text=rendered.text,
            )
        )
        return delivery.model_copy(update={"subject": rendered.subject})
