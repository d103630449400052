"""Timeouts and retry policies, named once. Every activity call states which it uses.

Forward steps retry transient failures with backoff for up to 10 minutes, then give up so the order is
compensated rather than stuck. Compensations keep trying far longer (24 hours): a half-undone order is worse
than a slow one, and an operator is alerted through the timeline if one still fails.
"""

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

STEP: dict[str, Any] = {
    "start_to_close_timeout": _ATTEMPT,
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": STEP_RETRY,
}
COMPENSATION: dict[str, Any] = {
    "start_to_close_timeout": _ATTEMPT,
    "schedule_to_close_timeout": timedelta(hours=24),
    "retry_policy": COMPENSATION_RETRY,
}
NOTIFY: dict[str, Any] = {
    "start_to_close_timeout": _ATTEMPT,
    "schedule_to_close_timeout": timedelta(hours=1),
    "retry_policy": STEP_RETRY,
}
# A failed tracking poll is simply tried again at the next interval.
TRACK: dict[str, Any] = {
    "start_to_close_timeout": _ATTEMPT,
    "schedule_to_close_timeout": timedelta(minutes=2),
    "retry_policy": STEP_RETRY,
}
# Subscribers may be down for a while; their events wait, in order, for up to three days.
PUBLISH: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(days=3),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
    ),
}
