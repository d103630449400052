"""A deliberately incompatible ``OrderWorkflow``: the real one, registered under the same name, that first sleeps
one second. A worker running it could not resume any order already under way, and the replay test must say so.

Kept out of the test module: the sandbox re-imports a workflow's module on every run, and this one imports only
what a workflow module may."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contract import ORDER_WORKFLOW
    from domain.order_view import OrderView, OrderWorkflowInput
    from workflows.order import OrderWorkflow


@workflow.defn(name=ORDER_WORKFLOW)
class OrderWorkflowWithAnExtraTimer(OrderWorkflow):
    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderView:
        await workflow.sleep(timedelta(seconds=1))  # a timer the recorded histories never started
        return await super().run(input)
