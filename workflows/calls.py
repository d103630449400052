"""One way for the workflows to call an activity, local or not, and one shape for its failure.

Orders and RMAs started before the saga's calls became local activities replay their regular ones: the
``LOCAL_ACTIVITIES`` patch is recorded by the runs that take the new path, and a history without it keeps the old
path (``tests/replay/histories/*-before-local-activities.json``).

A local activity's last failure reaches the workflow bare (temporalio 1.35 raises the activity's own
``ApplicationError`` once retries are exhausted or the error is non-retryable), where a regular activity's comes
wrapped in an ``ActivityError``. ``call`` wraps the former like the latter, so every caller reads a failure one way
(``workflows.failures``), whichever way its policy runs the call.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.policies import CallPolicy

R = TypeVar("R")

LOCAL_ACTIVITIES = "local-activities"


async def call(
    activity: Callable[[Any, Any], Awaitable[R]], arg: Any, policy: CallPolicy, *, summary: str | None = None
) -> R:
    """Run ``activity(arg)`` as ``policy`` says; ``summary`` is what the Temporal UI shows for the call. A failure
    that survived its retries is raised as an ``ActivityError`` whose ``cause`` says why."""
    if not (policy.local and workflow.patched(LOCAL_ACTIVITIES)):
        options = policy.options(local=False)
        result: R = await workflow.execute_activity_method(activity, arg, summary=summary, **options)
        return result
    try:
        options = policy.options(local=True)
        result = await workflow.execute_local_activity_method(activity, arg, summary=summary, **options)
    except ApplicationError as error:
        name = getattr(activity, "__temporal_activity_definition").name
        wrapped = ActivityError(
            "Local activity failed",
            scheduled_event_id=0,
            started_event_id=0,
            identity="",
            activity_type=name,
            activity_id="",
            retry_state=None,
        )
        raise wrapped from error
    return result


async def read_what_arrived(why: str) -> None:
    """End the workflow task, so that the signals and Updates that arrived during a run of local activities (a
    customer's cancellation, an address change) reach the workflow before its next step. A workflow task sees
    nothing new until it ends, and local activities keep it open: a millisecond's timer ends it (one action, five
    history events). Histories from before local activities had a task boundary after every activity, and none
    of this timer."""
    if workflow.patched(LOCAL_ACTIVITIES):
        await workflow.sleep(timedelta(milliseconds=1), summary=why)
