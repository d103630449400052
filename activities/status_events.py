"""Publishing an order's status changes to the retailer's subscribers."""

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from connectors.ports import StatusPublisher
from domain.order_view import OrderStatusChanged


class PublishStatusEvents(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    events: list[OrderStatusChanged]


class StatusEventActivities:
    def __init__(self, publisher: StatusPublisher) -> None:
        self._publisher = publisher

    @activity.defn(name="publish_status_events")
    async def publish(self, request: PublishStatusEvents) -> None:
        await self._publisher.publish(request.events)
