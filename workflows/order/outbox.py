"""Status events that the retailer's subscribers do not accept: kept, tried again, flagged when overdue.

The README promises every status change "in order, numbered by ``seq`` without gaps": a batch that fails is never
dropped. It waits in the order's outbox (carried over at continue-as-new) and goes out again after a pause that
doubles with each failure, up to the policy's ``status_events_overdue_after``; once it has failed that long the
order says so (timeline, current details, ``hub_status_events_overdue``), and again when it finally goes out.
The action that resolves it is the subscriber's: accept the events (each carries its ``event_id`` to dedupe).
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.failures import error_text
    from workflows.metrics import count_status_events_overdue
    from workflows.order.context import OrderContext

STATUS_EVENTS_KEPT = "status-events-kept-when-refused"
"""Histories in which a failed batch was dropped replay as they ran; new failures keep the batch."""

FIRST_PAUSE = timedelta(seconds=30)


@dataclass
class StatusEventRetries:
    ctx: OrderContext

    async def wait_after_failure(self, tried_at: datetime, error: ActivityError, *, stop: Callable[[], bool]) -> None:
        """A delivery tried at ``tried_at`` failed: flag the queue once it has failed for the policy's deadline,
        then pause before the next try (or until ``stop``). Only the first failure of a stretch goes on the
        timeline, so a long outage does not fill it."""
        ctx, s = self.ctx, self.ctx.state
        if s.outbox_failing_since is None:
            s.outbox_failing_since = tried_at
            ctx.journal.record("publish_status_events", "failed", error_text(error))
        s.outbox_failures += 1
        deadline = ctx.policy.status_events_overdue_after
        waiting = len(s.outbox)
        if not s.outbox_overdue and workflow.now() - s.outbox_failing_since >= deadline:
            s.outbox_overdue = True
            ctx.journal.record(
                "status_events_overdue",
                "failed",
                f"{waiting} status event(s) not accepted by the subscribers since "
                f"{s.outbox_failing_since:%Y-%m-%d %H:%M} UTC; kept and tried again until they are",
            )
            count_status_events_overdue()
        ctx.journal.doing(f"{waiting} status event(s) waiting for the subscribers to accept them")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(stop, timeout=pause_after(s.outbox_failures, deadline))

    def delivered(self, count: int) -> None:
        """A batch went out: after it was flagged, say so once; count failures afresh."""
        s = self.ctx.state
        if s.outbox_overdue:
            self.ctx.journal.record(
                "status_events_delivered", "succeeded", f"{count} status event(s) accepted after the delay"
            )
        s.outbox_failing_since, s.outbox_failures, s.outbox_overdue = None, 0, False


def pause_after(failures: int, longest: timedelta) -> timedelta:
    """The pause after ``failures`` failed deliveries in a row: 30 s, doubling, at most ``longest``."""
    return min(FIRST_PAUSE * (1 << min(failures - 1, 20)), longest)
