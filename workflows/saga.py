"""Compensations for a saga: registered before each step, undone newest first, each failure recorded and
the unwind continued, and the whole unwind shielded from workflow cancellation."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from temporalio import workflow

Compensation = Callable[[], Awaitable[None]]
Stop = TypeVar("Stop", bound=Exception)


async def forward_or_undo(
    forward: Coroutine[Any, Any, None], *, stops_on: type[Stop], undo: Callable[[Stop], Awaitable[None]]
) -> None:
    """The saga: its forward steps, and when they stop for a business reason (``stops_on``, carrying the reason
    told to the customer), the undo of what was done."""
    try:
        await forward
    except stops_on as stop:
        await undo(stop)


class Compensations:
    def __init__(self) -> None:
        self._undo: list[tuple[str, Compensation]] = []

    def add(self, name: str, undo: Compensation) -> None:
        """Register ``undo`` *before* running the step it reverses: a step whose outcome is unknown (its
        answer was lost) must still be undone, so every compensation is a no-op when nothing happened."""
        self._undo.append((name, undo))

    def close(self) -> None:
        """The saga succeeded past its point of no return; later reversals are a different flow (returns)."""
        self._undo.clear()

    async def unwind(self, on_failure: Callable[[str, BaseException], None]) -> None:
        """Run every compensation, newest first, even when the workflow is being cancelled."""
        task = asyncio.ensure_future(self._run(on_failure))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Asked to stop mid-unwind: finish undoing first, then let the cancellation through.
            await task
            raise

    async def _run(self, on_failure: Callable[[str, BaseException], None]) -> None:
        while self._undo:
            name, undo = self._undo.pop()
            try:
                await undo()
            except Exception as error:  # an activity error: record it and keep undoing the rest
                workflow.logger.error("compensation %s failed: %s", name, error)
                on_failure(name, error)
