"""The RMA at rest: what it waits for (its current details in the Temporal UI), a fresh run when the history grows
long, and, at the end, the order told what the RMA became (signal ``after_sales_closed``), so that the order's later
requests count what came back and was refunded."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.contract import OrderSignal
    from domain.returns import ReturnOutcome
    from workflows.kit.lifecycle import handlers_finished, history_is_long, safe_point
    from workflows.returns.context import ReturnContext


@dataclass
class AtRest:
    ctx: ReturnContext
    settled: bool = field(default=False, init=False)
    """The RMA has ended and the customer has been told: Updates waiting for the outcome answer now."""

    async def rest_until(
        self, condition: Callable[[], bool], doing: str, give_up_after: timedelta | None = None
    ) -> None:
        """Wait for ``condition`` (``TimeoutError`` after ``give_up_after``), saying what for in the Temporal UI."""
        self.ctx.journal.doing(doing)
        await workflow.wait_condition(condition, timeout=give_up_after)

    def history_is_long(self) -> bool:
        return history_is_long(self.ctx.policy.history_event_limit)

    async def continue_as_new_if_long(self) -> None:
        """While waiting, past the history limit: carry the state into a fresh run. Only with every handler
        finished and no decision pending, so no Update or signal is lost; a pending one is handled first."""
        ctx, s = self.ctx, self.ctx.state
        if not self.history_is_long() or not await safe_point(lambda: s.pending):
            return
        s.runs += 1
        length = workflow.info().get_current_history_length()
        ctx.journal.record("continue_as_new", "info", f"run {s.runs + 1} continues after {length} events")
        workflow.continue_as_new(
            ctx.input.model_copy(update={"carried_over": s.model_dump(mode="json")}),
            search_attributes=workflow.info().typed_search_attributes,
        )

    async def end(self) -> None:
        """The RMA has ended, on every path: Updates waiting for the outcome answer, then the order is told."""
        self.settled = True
        await handlers_finished()
        await self.tell_order()

    async def tell_order(self, awaiting_a_person: bool = False) -> None:
        """The order counts what came back and what was refunded (or, while the RMA requires action, stops waiting
        for it); a gone order (ended, or deleted) is noted."""
        ctx, s = self.ctx, self.ctx.state
        outcome = ReturnOutcome(
            rma_id=ctx.request.rma_id,
            kind=ctx.request.kind,
            status=s.status,
            returned=s.returned,
            refunded=s.refunded,
            replacement_shipped=s.replacement_shipped,
            charged=s.charged,
            awaiting_a_person=awaiting_a_person,
        )
        order = workflow.get_external_workflow_handle(ctx.input.order_workflow_id)
        try:
            await order.signal(OrderSignal.AFTER_SALES_CLOSED, outcome)
        except (ApplicationError, FailureError) as error:
            ctx.journal.record("tell_order", "failed", f"{ctx.input.order_workflow_id} not told: {error}")
            return
        ctx.journal.record("tell_order", "succeeded", s.status.value)
