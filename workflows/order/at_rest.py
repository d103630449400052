"""The order at rest: what the Temporal UI and the retailer see, and a fresh run when the history grows long.

The order comes to rest when it starts waiting for someone else (the customer, the ERP, the carrier, the return
window) or ends. Only then does it index its statuses (one upsert, however many changed) and release its queued
status events (one publishing activity for the batch): the steps between two rests take seconds, while each upsert
and each activity is a billed action on Temporal Cloud. A status an engineer filters on is one the order stays in;
an order stuck mid-step shows its pending activity and current details instead."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.status_events import PublishStatusEvents, StatusEventActivities
    from domain.order_view import OrderWorkflowInput
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.lifecycle import handlers_finished, history_is_long, safe_point
    from workflows.metrics import count_order_outcome
    from workflows.order.context import OrderContext
    from workflows.order.outbox import STATUS_EVENTS_KEPT, StatusEventRetries
    from workflows.search_attributes import (
        ACTION_REASON,
        BACKORDERED_SKUS,
        FULFILLMENT_STATUS,
        ORDER_STATUS,
        PAYMENT_STATUS,
    )


@dataclass
class AtRest:
    ctx: OrderContext
    _release_status_events: bool = field(default=False, init=False)
    """Set when the order comes to rest: the events queued since go out in one batch."""
    _closing: bool = field(default=False, init=False)
    _publisher: asyncio.Task[None] | None = field(default=None, init=False)
    _carrying_over: bool = field(default=False, init=False)
    """Closing for continue-as-new: status events that fail now go to the next run with the state."""
    _retries: StatusEventRetries = field(init=False)

    def __post_init__(self) -> None:
        self._retries = StatusEventRetries(self.ctx)

    def start(self) -> None:
        """The first status event of a new order, and the publisher that delivers them for the whole run."""
        s = self.ctx.state
        if s.started_at is None:
            s.started_at = workflow.now()
            self.ctx.status_changed(force=True)
        if self.ctx.policy.publish_status_events:
            self._publisher = asyncio.create_task(self._publish_status_events())

    def come_to_rest(self) -> None:
        """Index the statuses that changed (one upsert) and release the queued status events."""
        s = self.ctx.state
        indexed = workflow.info().typed_search_attributes
        wanted: list[tuple[SearchAttributeKey[Any], Any]] = [
            (ORDER_STATUS, s.status.value),
            (PAYMENT_STATUS, s.payment_status.value),
            (FULFILLMENT_STATUS, s.fulfillment_status.value),
            (BACKORDERED_SKUS, s.backordered_skus),
            (ACTION_REASON, s.action_required[0].value if s.action_required else None),
        ]
        # An attribute never set counts as empty: no upsert just to write an empty list; ``None`` unsets.
        changes = [
            key.value_unset() if value is None else key.value_set(value)
            for key, value in wanted
            if (indexed.get(key) or type(value)()) != value
        ]
        if changes:  # all in one command: one action however many attributes changed
            workflow.upsert_search_attributes(changes)
        self._release_status_events = True

    def _stop_pending(self) -> bool:
        """A cancellation (or an abort) handed in is carried out in this run: its Update waits for the undo."""
        return self.ctx.state.cancel is not None or self.ctx.checkpoint.abort_pending is not None

    def _reopen(self) -> None:
        """The publisher back at work after a ``close`` that did not end the run."""
        self._closing = self._carrying_over = False
        if self.ctx.policy.publish_status_events:
            self._publisher = asyncio.create_task(self._publish_status_events())

    async def rest_until(self, condition: Callable[[], bool], give_up_after: timedelta | None = None) -> None:
        """Wait for ``condition`` (``TimeoutError`` after ``give_up_after``), having come to rest first."""
        self.come_to_rest()
        await workflow.wait_condition(condition, timeout=give_up_after)

    async def close(self) -> None:
        """Index the final statuses and deliver the status events still queued before the run ends."""
        self.come_to_rest()
        self._closing = True
        if self._publisher is not None:
            await self._publisher

    async def end(self) -> None:
        """The run ends for good, on every path: every handler has answered, the final statuses are indexed, the
        queued events delivered and the outcome counted."""
        await handlers_finished()
        if self.ctx.telling:
            await workflow.wait_condition(lambda: not self.ctx.telling)
        await self.close()
        count_order_outcome(self.ctx.state.status.value)

    async def _publish_status_events(self) -> None:
        """Drain the outbox in order, one activity per rest of the order (the changes since the last one).

        A batch the subscribers do not accept stays queued (the README promises events "without gaps"): it is
        tried again, the pauses doubling up to the policy's ``status_events_overdue_after``, and flagged once it
        has failed that long. When the run continues as new the queue goes with the state; when the order ends
        its workflow waits until the queue is delivered."""
        ctx = self.ctx
        outbox = ctx.state.outbox
        while True:
            await workflow.wait_condition(lambda: (bool(outbox) and self._release_status_events) or self._closing)
            if not outbox:
                return
            self._release_status_events = False
            batch, tried_at = list(outbox), workflow.now()
            try:
                await workflow.execute_activity_method(
                    StatusEventActivities.publish,
                    PublishStatusEvents(order_id=ctx.order.order_id, events=batch),
                    summary=f"Publishing {len(batch)} status event(s) to the retailer",
                    **{**policies.PUBLISH, "schedule_to_close_timeout": ctx.policy.status_events_overdue_after},
                )
            except ActivityError as error:
                if workflow.patched(STATUS_EVENTS_KEPT):
                    await self._retries.wait_after_failure(tried_at, error, stop=lambda: self._carrying_over)
                    if self._carrying_over:
                        return  # the queue goes to the next run with the state
                    self._release_status_events = True
                    continue
                ctx.journal.record("publish_status_events", "failed", error_text(error))
            else:
                self._retries.delivered(len(batch))
            del outbox[: len(batch)]

    async def continue_as_new_if_long(self) -> None:
        """Weeks of waiting for stock, following a parcel or keeping the return window open grow the history:
        past the limit, carry the state into a fresh run. Only at a safe point: nothing in flight, handlers
        finished, queued status events delivered first, so the next run starts exactly where this one stopped."""
        ctx, s = self.ctx, self.ctx.state
        if not history_is_long(ctx.policy.history_event_limit):
            return
        while True:
            if not await safe_point(self._stop_pending):
                return
            if ctx.telling:
                await workflow.wait_condition(lambda: not ctx.telling)
            self._carrying_over = True
            await self.close()
            if workflow.all_handlers_finished():  # nothing came in while the events went out: no await from here on
                break
            self._reopen()  # an Update accepted while the events went out finishes in this run, then we go on
        length = workflow.info().get_current_history_length()
        ctx.journal.record("continue_as_new", "info", f"run {s.runs + 2}, history {length}")
        carried = s.model_copy(update={"runs": s.runs + 1})
        workflow.continue_as_new(
            OrderWorkflowInput(order=ctx.order, policy=ctx.policy, carried_over=carried.model_dump(mode="json"))
        )
