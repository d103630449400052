"""After delivery: returns, exchanges and claims (stories 2, 3, 5). The order stays open through the return window
(and until every RMA opened in it has closed) because it is the one place that knows what was delivered, paid and
already returned: it decides what may come back, then hands each RMA to its own workflow (``return:{rma_id}``)."""

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain.contract import Refusal
    from domain.order import OrderLine
    from domain.return_eligibility import why_no_return
    from domain.returns import ReturnOutcome, ReturnRequest, ReturnStatus, ReturnView, ReturnWorkflowInput
    from workflows.kit.lifecycle import changed
    from workflows.order import rules
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderContext
    from workflows.order.payments import Payments
    from workflows.rma import start_return_workflow


@dataclass
class AfterSales:
    """The return window, and the RMAs the order lets in: what each may take back and refund."""

    ctx: OrderContext
    payments: Payments
    rest: AtRest

    async def keep_window_open(self) -> None:
        """Stay open through the return window, and until every RMA opened in it has closed."""
        ctx, s = self.ctx, self.ctx.state
        if s.delivered_at is None:
            return
        closes = s.delivered_at + ctx.policy.returns.window
        while True:
            await self.rest.continue_as_new_if_long()
            opened = sum(rma.outcome is None and not rma.awaits_a_person for rma in s.rmas.values())
            remaining = closes - workflow.now()
            ctx.journal.doing(f"Delivered; returns accepted until {closes:%Y-%m-%d %H:%M} UTC; {opened} RMA(s) open")
            if remaining <= timedelta(0) and not opened:
                return
            with contextlib.suppress(TimeoutError):
                await self.rest.rest_until(
                    # A status the payment provider's news moved meanwhile is indexed at the next rest.
                    changed(
                        lambda: (
                            len(s.rmas),
                            sum(rma.outcome is None and not rma.awaits_a_person for rma in s.rmas.values()),
                            s.status,
                            s.payment_status,
                        )
                    ),
                    give_up_after=remaining if remaining > timedelta(0) else None,
                )

    async def open_return(self, request: ReturnRequest) -> ReturnView:
        """A return, exchange or claim from any channel (story 5), already checked by :meth:`check_return`: its
        refund budget fixed, then owned by its own after-sales workflow."""
        ctx, s = self.ctx, self.ctx.state
        lines = {line.sku: line.quantity for line in request.lines}
        payments = self.payments.allocate(request.rma_id, lines)
        priced = [OrderLine(sku=x.sku, quantity=x.quantity, unit_price=ctx.unit_price(x.sku)) for x in request.lines]
        rma_input = ReturnWorkflowInput(
            request=request,
            order_id=ctx.order.order_id,
            order_workflow_id=workflow.info().workflow_id,
            customer=ctx.order.customer,
            currency=ctx.order.currency,
            address=s.address,
            lines=priced,
            payments=payments,
            payment_method=ctx.order.payment_method,
            policy=ctx.policy.returns,
            requested_at=workflow.now(),
        )
        try:
            await start_return_workflow(rma_input)
        except WorkflowAlreadyStartedError:
            del s.rmas[request.rma_id]  # the RMA id belongs to another order's after-sales flow
            raise _refused(f"RMA {request.rma_id} is already in use") from None
        ctx.journal.record("after_sales", "info", f"{request.kind.value} {request.rma_id} opened via {request.channel}")
        return ReturnView(
            rma_id=request.rma_id,
            order_id=ctx.order.order_id,
            kind=request.kind,
            channel=request.channel,
            status=ReturnStatus.REQUESTED,
            lines=priced,
            claim_reason=request.claim_reason,
            currency=ctx.order.currency,
        )

    def check_return(self, request: ReturnRequest) -> None:
        """Refused with the reason (nothing enters the history): a known RMA id, nothing delivered, the window
        closed, more than was delivered and not already returned."""
        ctx, s = self.ctx, self.ctx.state
        if request.rma_id in s.rmas:
            raise _refused(f"RMA {request.rma_id} already exists on this order")
        closes = s.delivered_at + ctx.policy.returns.window if s.delivered_at else None
        if reason := why_no_return(delivered_at=s.delivered_at, window_ends=closes, now=workflow.now()):
            raise _refused(reason)
        available = rules.returnable(s.delivered(), s.rmas.values())
        for line in request.lines:
            if line.quantity > available[line.sku]:
                raise _refused(
                    f"{line.sku}: {line.quantity} requested, {available[line.sku]} delivered and not already returned"
                )

    def closed(self, outcome: ReturnOutcome) -> None:
        """An RMA of this order ended: what came back and what was refunded now count for later requests."""
        rma = self.ctx.state.rmas.get(outcome.rma_id)
        if rma is None or rma.outcome is not None:
            return
        if outcome.awaiting_a_person:  # a person is asked for on the RMA: not its end
            rma.awaits_a_person = True
            what = f"{outcome.kind.value} {outcome.rma_id} requires action; the order does not wait for it"
            self.ctx.journal.record("after_sales", "info", what)
            return
        rma.outcome = outcome
        self.payments.settle(outcome)
        self.ctx.journal.record("after_sales", "info", f"{outcome.kind.value} {outcome.rma_id} {outcome.status.value}")


def _refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=Refusal.RETURN)
