"""After shipping: every parcel followed until it is delivered or comes back. Carrier webhooks move the parcels
(``Scans``); when none has arrived for a while the carrier is asked; the customer is told of a delay before they
have to ask (story 1); a parcel not delivered by the deadline is lost, and one lost or returned to sender is set
right (``Undelivered``)."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.shipping import ShipmentRef, ShippingActivities
    from domain.shipments import ShipmentView
    from domain.status import FulfillmentStatus, OrderStatus
    from notifications.notice import DelayCause, NoticeKind
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.lifecycle import changed
    from workflows.order import rules
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderContext
    from workflows.order.scans import Scans
    from workflows.order.shipping import Shipping
    from workflows.order.undelivered import Undelivered

# A parcel past the delivery deadline is lost and set right, like one returned to sender, and the order ends
# completed unless a person must act; before, it ended ``requires_action`` with nothing done.
UNDELIVERED_SET_RIGHT = "undelivered-parcels-set-right"
# Parcels that left are followed while the rest of a split order waits for stock (delays, deliveries and parcels
# that do not arrive acted on at once, returns of what arrived let in); before, nothing until the last item shipped.
FOLLOWED_WHILE_WAITING = "parcels-followed-while-waiting-for-stock"


@dataclass
class Tracking:
    ctx: OrderContext
    scans: Scans
    shipping: Shipping
    rest: AtRest
    undelivered: Undelivered

    async def follow_delivery(self) -> None:
        """Wait for the carrier's scans until every parcel is delivered or comes back; ask the carrier ourselves
        when none has arrived for a while; hand over to a person after the deadline."""
        ctx, s = self.ctx, self.ctx.state
        if not s.shipped_any or s.status.is_terminal:
            return
        if s.delivery_deadline is None:
            s.delivery_deadline = workflow.now() + ctx.policy.delivery_deadline
        while True:
            await workflow.wait_condition(lambda: not self.shipping.relabeling)  # between two labels it still moves
            if self._undelivered() and workflow.patched(UNDELIVERED_SET_RIGHT):
                await self.undelivered.settle()  # told and refunded now, not when the last parcel arrives
            if not self._moving():
                break
            await self.rest.continue_as_new_if_long()
            deadline = self._next_deadline()
            remaining = deadline - workflow.now()
            where = ", ".join(f"shipment {x.shipment_no} {x.status.value}" for x in self._moving())
            ctx.journal.doing(f"Following {where} until delivered (deadline {deadline:%Y-%m-%d})")
            if remaining <= timedelta(0):
                ctx.journal.record("follow_delivery", "failed", "no delivery scan before the deadline")
                if workflow.patched(UNDELIVERED_SET_RIGHT):
                    self._lose_parcels_past_their_deadline()
                    continue
                ctx.update(status=OrderStatus.REQUIRES_ACTION)
                return
            try:
                await self.rest.rest_until(
                    self._news_or(changed(lambda: ([x.status for x in self._moving()], self.shipping.relabeling))),
                    give_up_after=min(ctx.policy.tracking_poll_interval, remaining, self._until_promised_date()),
                )
            except TimeoutError:
                for shipment in self._moving():
                    await self._poll(shipment.reference)
            await self._tell_about_delays()
        if self._undelivered() and workflow.patched(UNDELIVERED_SET_RIGHT):
            await self._end_with_undelivered()
            return
        delivered = any(x.status is FulfillmentStatus.DELIVERED for x in s.shipments if x.captured)
        if delivered:
            s.delivered_at = workflow.now()
        ctx.update(status=OrderStatus.COMPLETED if delivered else OrderStatus.REQUIRES_ACTION)
        untold = [x for x in s.shipments if x.captured and x.reference not in s.delivered_told]
        if delivered and untold:  # none when each parcel was told on its own as it arrived
            await ctx.notify(NoticeKind.ORDER_DELIVERED)

    async def alongside(self, wait: Callable[[], Awaitable[None]]) -> None:
        """Run ``wait`` (the rest of a split order waiting for stock) while following the parcels that already left:
        a delay, a delivery or a parcel that does not arrive is acted on now, not when the last item ships. The
        follower finishes its step before ``wait`` goes on (a continue-as-new, an abort): nothing is cut off."""
        if not self.ctx.state.shipped_any or not workflow.patched(FOLLOWED_WHILE_WAITING):
            await wait()
            return
        done = False
        follower = asyncio.create_task(self._follow_while(lambda: done))
        try:
            await wait()
        finally:
            done = True
            await follower

    async def _follow_while(self, waiting: Callable[[], bool]) -> None:
        """Follow the parcels that left until the wait ends: no continue-as-new and no final status here (the
        saga owns both), only what the customer and the money need now."""
        ctx, s = self.ctx, self.ctx.state
        for shipment in self._moving():
            parcel = s.parcels.get(shipment.reference)
            if parcel is not None and parcel.deadline is None:
                parcel.deadline = workflow.now() + ctx.policy.delivery_deadline
        while not waiting():
            if self._undelivered():
                await self.undelivered.settle()
            await self._tell_about_deliveries()
            await self._tell_about_delays()
            self.rest.come_to_rest()  # what changed shows in the search attributes while the order waits on
            if not self._moving():
                break
            remaining = self._next_deadline() - workflow.now()
            if remaining <= timedelta(0):
                ctx.journal.record("follow_delivery", "failed", "no delivery scan before the deadline")
                self._lose_parcels_past_their_deadline()
                continue
            try:
                await workflow.wait_condition(
                    self._news_or(changed(lambda: ([x.status for x in self._moving()], waiting())), following=True),
                    timeout=min(ctx.policy.tracking_poll_interval, remaining, self._until_promised_date()),
                )
            except TimeoutError:
                for shipment in self._moving():
                    await self._poll(shipment.reference)

    async def _tell_about_deliveries(self) -> None:
        """A parcel delivered while more of the order is still to come: told on its own (its tracking), and what it
        carried may be returned from now on."""
        ctx, s = self.ctx, self.ctx.state
        for shipment in s.shipments:
            arrived = shipment.captured and shipment.status is FulfillmentStatus.DELIVERED
            if arrived and shipment.reference not in s.delivered_told:
                s.delivered_told.append(shipment.reference)
                s.delivered_at = workflow.now()
                await ctx.notify(NoticeKind.ORDER_DELIVERED, tracking_of=[shipment.reference])

    def _news_or(self, moved: Callable[[], bool], *, following: bool = False) -> Callable[[], bool]:
        """Wake on ``moved``, or at once for news a scan brought while the last one was being acted on (measured from
        the state, not from when the wait began, so a scan applied during a message is not missed); ``following``
        while the order waits for stock, deliveries and undelivered parcels too."""
        s = self.ctx.state

        def news() -> bool:
            untold_delay = any(
                x.status is FulfillmentStatus.EXCEPTION and x.reference not in s.delays_told for x in self._moving()
            )
            untold = following and any(
                x.captured
                and (
                    (x.status is FulfillmentStatus.DELIVERED and x.reference not in s.delivered_told)
                    or (x.status in rules.UNDELIVERED and x.reference not in s.undelivered)
                )
                for x in s.shipments
            )
            return untold_delay or untold or moved()

        return news

    def _next_deadline(self) -> datetime:
        """The soonest deadline of a parcel still moving."""
        return min(self._deadline_of(x.reference) for x in self._moving())

    def _deadline_of(self, reference: str) -> datetime:
        """A parcel's own deadline when it was followed while the order waited for stock, else the order's."""
        s = self.ctx.state
        parcel = s.parcels.get(reference)
        if parcel is not None and parcel.deadline is not None:
            return parcel.deadline
        return s.delivery_deadline or workflow.now() + self.ctx.policy.delivery_deadline

    def _lose_parcels_past_their_deadline(self) -> None:
        for shipment in self._moving():
            if self._deadline_of(shipment.reference) <= workflow.now():
                self.ctx.mark_shipment(shipment.reference, FulfillmentStatus.LOST)

    async def _end_with_undelivered(self) -> None:
        """Every parcel has reached its end and some did not arrive (each already set right): the order is never
        said to be delivered; it completes unless a person must act, and what did arrive may still be returned."""
        ctx, s = self.ctx, self.ctx.state
        await self.undelivered.settle()
        if any(x.status is FulfillmentStatus.DELIVERED for x in s.shipments if x.captured):
            s.delivered_at = workflow.now()
        ctx.update(status=OrderStatus.REQUIRES_ACTION if s.action_required else OrderStatus.COMPLETED)

    def _undelivered(self) -> bool:
        return any(x.captured and x.status in rules.UNDELIVERED for x in self.ctx.state.shipments)

    def _moving(self) -> list[ShipmentView]:
        return rules.parcels_moving(self.ctx.state.shipments)

    def _until_promised_date(self) -> timedelta:
        deadline = rules.end_of_day(self.ctx.order.promised_delivery_date)
        if deadline is None or "promised" in self.ctx.state.delays_told:
            return timedelta(days=365)
        return max(deadline - workflow.now(), timedelta(seconds=1))

    async def _tell_about_delays(self) -> None:
        """Once per parcel the carrier reports a problem with, and once when the promised date passes without a
        delivery."""
        ctx, s = self.ctx, self.ctx.state
        for parcel in self._moving():
            if parcel.status is FulfillmentStatus.EXCEPTION and parcel.reference not in s.delays_told:
                s.delays_told.append(parcel.reference)
                await ctx.notify(
                    NoticeKind.ORDER_DELAYED, tracking_of=[parcel.reference], delay=DelayCause.CARRIER_EXCEPTION
                )
        deadline = rules.end_of_day(ctx.order.promised_delivery_date)
        if deadline and workflow.now() >= deadline and "promised" not in s.delays_told and self._moving():
            s.delays_told.append("promised")
            moving = [x.reference for x in self._moving()]
            await ctx.notify(NoticeKind.ORDER_DELAYED, tracking_of=moving, delay=DelayCause.PAST_PROMISED_DATE)

    async def _poll(self, reference: str) -> None:
        try:
            tracking = await workflow.execute_activity_method(
                ShippingActivities.track,
                ShipmentRef(reference=reference),
                summary=f"Asking the carrier about {reference}",
                **policies.TRACK,
            )
        except ActivityError as error:
            self.ctx.journal.record("track_shipment", "failed", error_text(error))
            return
        status = rules.FULFILLMENT_BY_TRACKING.get(tracking.status)
        if status is not None:
            self.scans.advance(reference, status, f"carrier: {tracking.raw_status}")
