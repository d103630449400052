"""One forward step of a saga: an activity with its timeouts and a summary for the Temporal UI, its outcome on the
timeline, and a failure that survived its retries turned into the workflow's own abort."""

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.journal import Journal

R = TypeVar("R")


async def run_step(
    journal: Journal,
    name: str,
    activity: Callable[[Any, Any], Awaitable[R]],
    arg: Any,
    *,
    summary: str,
    abort: Callable[[str, ActivityError], NoReturn],
    describe: Callable[[R], str] | None = None,
) -> R:
    """Run ``activity`` under the step policy. ``summary`` is what the Temporal UI shows for it, so an engineer
    reads the workflow at a glance; ``abort`` raises the workflow's reason to stop (after the failure is on the
    timeline); ``describe`` words a success for the timeline."""
    try:
        result: R = await workflow.execute_activity_method(activity, arg, summary=summary, **policies.STEP)
    except ActivityError as error:
        journal.record(name, "failed", error_text(error))
        abort(name, error)
    journal.record(name, "succeeded", describe(result) if describe else None)
    return result
