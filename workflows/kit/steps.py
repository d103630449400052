"""One forward step of a saga: an activity with its timeouts and a summary for the Temporal UI, its outcome on the
timeline, and a failure that survived its retries turned into the workflow's own reason to stop."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.order_view import FailureReason
    from workflows import policies
    from workflows.failures import error_text, failure_reason
    from workflows.kit.journal import Journal

R = TypeVar("R")


class Steps:
    """Runs a workflow's forward steps. ``rejections`` says what a business rejection means, by step name;
    ``stop`` builds the exception that stops the workflow's saga with that reason."""

    def __init__(
        self,
        journal: Journal,
        rejections: Mapping[str, FailureReason],
        stop: Callable[[FailureReason], Exception],
    ) -> None:
        self._journal = journal
        self._rejections = rejections
        self._stop = stop

    async def run(
        self,
        name: str,
        activity: Callable[[Any, Any], Awaitable[R]],
        arg: Any,
        describe: Callable[[R], str] | None = None,
        *,
        summary: str,
    ) -> R:
        """Run ``activity`` under the step policy. ``summary`` is what the Temporal UI shows for it, so an engineer
        reads the workflow at a glance; ``describe`` words a success for the timeline."""
        try:
            result: R = await workflow.execute_activity_method(activity, arg, summary=summary, **policies.STEP)
        except ActivityError as error:
            self._journal.record(name, "failed", error_text(error))
            raise self._stop(failure_reason(name, error, self._rejections)) from error
        self._journal.record(name, "succeeded", describe(result) if describe else None)
        return result
