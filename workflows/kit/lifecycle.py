"""When a run may end: continue-as-new only at a safe point, and an exit that waits for every handler."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from temporalio import workflow


def history_is_long(limit: int | None) -> bool:
    """Past the policy's limit of events, or Temporal suggests a fresh run (about 10k events)."""
    info = workflow.info()
    return info.is_continue_as_new_suggested() or bool(limit and info.get_current_history_length() > limit)


async def safe_point(pending: Callable[[], bool] = lambda: False) -> bool:
    """Wait until no signal or Update handler is still running, so none is lost with the run; ``False`` when a
    decision handed in meanwhile (``pending``) must be handled first, in this run."""
    await workflow.wait_condition(lambda: workflow.all_handlers_finished() or pending())
    return not pending()


async def to_the_end(
    story: Coroutine[Any, Any, None], *, stopped: Callable[[], Awaitable[None]], end: Callable[[], Awaitable[None]]
) -> None:
    """Run the workflow's ``story``, then ``end`` it, on every path: when an operator cancels the workflow itself
    (UI, CLI), ``stopped`` first undoes or hands over what it must, then ``end`` runs and the cancellation goes
    through. ``end`` is where a workflow waits for its handlers (:func:`handlers_finished`), so none is cut off."""
    try:
        await story
    except asyncio.CancelledError:
        await stopped()
        await end()
        raise
    await end()


async def handlers_finished() -> None:
    """Every exit waits here, cancellation included: an Update still waiting for the outcome answers first."""
    await workflow.wait_condition(workflow.all_handlers_finished)


def changed(measure: Callable[[], object]) -> Callable[[], bool]:
    """A wait condition that becomes true once ``measure()`` differs from its value now."""
    before = measure()
    return lambda: measure() != before
