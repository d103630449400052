"""Customer notification activity: render the notice, send it under its deterministic id on every channel
configured for its kind (``connectors/channels.py``: email by default, SMS and the retailer's webhook where
configured)."""

from temporalio import activity

from connectors.channels import ChannelRouter
from connectors.ports import Notifier
from domain.notification import Delivery, OutboundMessage
from notifications.notice import CustomerNotice
from notifications.render import render


class NotificationActivities:
    def __init__(self, notifier: Notifier) -> None:
        # A plain notifier (tests, fakes) is the email channel alone.
        self._router = notifier if isinstance(notifier, ChannelRouter) else ChannelRouter(email=notifier)

    @activity.defn(name="notify_customer")
    async def notify(self, notice: CustomerNotice) -> Delivery:
        rendered = render(notice)
        delivery = await self._router.dispatch(
            OutboundMessage(
                notification_id=notice.notification_id,
                order_id=notice.order_id,
                recipient=str(notice.customer.email),
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                short_text=rendered.sms,
                event=notice.kind.value,
                locale=notice.customer.locale,
            ),
            phone=notice.customer.phone,
            preferred=notice.customer.channels,
        )
        return delivery.model_copy(update={"subject": rendered.subject})
