"""A stand-in for the order workflow's after-sales side: it starts an RMA's workflow as a child, exactly as the
order workflow does (``start_return_workflow``), and returns the outcome the child signals when it ends."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contract import OrderSignal
    from domain.returns import ReturnOutcome, ReturnWorkflowInput
    from workflows.rma import start_return_workflow


@workflow.defn(name="OrderAfterSalesStub")
class OrderAfterSalesStub:
    def __init__(self) -> None:
        self._outcome: ReturnOutcome | None = None

    @workflow.run
    async def run(self, input: ReturnWorkflowInput) -> ReturnOutcome:
        await start_return_workflow(input)
        await workflow.wait_condition(lambda: self._outcome is not None)
        assert self._outcome is not None
        return self._outcome

    @workflow.signal(name=OrderSignal.AFTER_SALES_CLOSED)
    def after_sales_closed(self, outcome: ReturnOutcome) -> None:
        self._outcome = outcome
