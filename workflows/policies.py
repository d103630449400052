"""How each kind of activity call runs: where (in the worker, or through the server), its timeouts and its retries,
named once. Every activity call states which it uses (``workflows.calls.call``).

Forward steps retry transient failures with backoff for up to 10 minutes, then give up so the order is
compensated rather than stuck. Compensations keep trying far longer (24 hours): a half-undone order is worse
than a slow one, and an operator is alerted through the timeline if one still fails.

**Local activities.** The saga's calls (payment, stock, labels, the customer's messages, tracking polls) answer
in well under a second and are idempotent by their business key, so they run as local activities: the worker runs
them inside the workflow task and records each result as a marker, without a round trip through the server's
activity queue. Per order that saves about half the server's work and a third of the worker's
(``docs/benchmarks.md``), and Temporal Cloud bills one action per workflow task that ran any, not one per call.
What it changes:

- A worker that dies mid-task runs the task's calls again; their idempotency keys (and a message's Message-ID)
  make that harmless, as they already did for an answer lost in transit.
- A signal or Update reaches the order between workflow tasks: after the calls of the current step sequence, or
  at the latest when the worker heartbeats a long task (80 % of the 10 s task timeout).
- A retry whose backoff is longer than ``_LOCAL_BACKOFF`` waits on a durable timer, not in the worker, so an
  upstream outage does not hold the workflow task: the order reads its signals and Updates meanwhile.

Status events to subscribers stay regular activities: a subscriber may be down for days, and the server's own
retries keep the order asleep meanwhile.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

# Business rejections are raised as non-retryable ApplicationErrors by the activity boundary, so no policy
# lists error types: "non-retryable" travels with the error.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=2)
)

# One attempt may take up to 15 s (connectors time out at 10 s): a worker that dies mid-call is noticed then.
_ATTEMPT = timedelta(seconds=15)
# Backoffs up to this wait in the worker (1 s, then 2 s); longer ones on a timer, between workflow tasks.
_LOCAL_BACKOFF = timedelta(seconds=2)


@dataclass(frozen=True)
class CallPolicy:
    """Where an activity runs and for how long it is tried."""

    start_to_close: timedelta
    schedule_to_close: timedelta
    retry: RetryPolicy
    local: bool = True

    def options(self, *, local: bool) -> dict[str, Any]:
        """Keyword arguments for ``workflow.execute_local_activity_method`` (``local``) or
        ``execute_activity_method``."""
        options: dict[str, Any] = {
            "start_to_close_timeout": self.start_to_close,
            "schedule_to_close_timeout": self.schedule_to_close,
            "retry_policy": self.retry,
        }
        if local:
            options["local_retry_threshold"] = _LOCAL_BACKOFF
        return options


STEP = CallPolicy(_ATTEMPT, timedelta(minutes=10), STEP_RETRY)
COMPENSATION = CallPolicy(_ATTEMPT, timedelta(hours=24), COMPENSATION_RETRY)
NOTIFY = CallPolicy(_ATTEMPT, timedelta(hours=1), STEP_RETRY)
# A failed tracking poll is simply tried again at the next interval.
TRACK = CallPolicy(_ATTEMPT, timedelta(minutes=2), STEP_RETRY)
# Subscribers may be down for a while; their events wait, in order, for up to three days.
PUBLISH = CallPolicy(
    timedelta(seconds=30),
    timedelta(days=3),
    RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)),
    local=False,
)
