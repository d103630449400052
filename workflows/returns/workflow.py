"""``ReturnWorkflow``: one durable owner of an RMA — a return, an exchange or a claim (id ``return:{rma_id}``).

This class is the RMA's public surface: ``run`` tells its story, and every signal, Update, validator and query is a
short delegation to the part that owns it, each built from one shared context (``ReturnContext``) around one state
model (``ReturnState``): ``Flows`` the way from request to settlement, ``Replacement`` the goods sent instead,
``Refunds`` every move of money, ``Waiting`` for the parcel or an operator, ``Scans`` the carrier's news,
``Decisions`` what people hand in, ``Undo`` compensation, ``AtRest`` the indexed status, continue-as-new and the
order told at the end.

A carrier *delivered* scan of the return parcel only says that it reached the warehouse: the RMA keeps waiting
for the receipt (the ERP's ``return.received`` event or ``POST /returns/{rma}/received``), because only the
inspection says what is refunded. Final statuses: ``refunded`` (money went back), ``exchanged`` (a replacement
shipped at no charge, and for a claim delivered), ``closed`` (received, nothing to refund), ``declined``,
``canceled``, ``expired``. ``requires_action`` (the reason in the ``ActionReason`` search attribute) is where an RMA
rests for a person (a label that could not be sent, a return parcel lost or sent back) or ends for one (a refused
refund, a replacement not delivered, an exchanged item not returned).
"""

import contextlib

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contract import RETURN_WORKFLOW, VIEW, ReturnSignal, ReturnUpdate
    from domain.events import UpstreamEvent
    from domain.returns import (
        ApprovalDecision,
        CancelReturn,
        ResendLabel,
        ReturnReceipt,
        ReturnView,
        ReturnWorkflowInput,
        WarehouseReceipt,
    )
    from workflows.kit.lifecycle import to_the_end
    from workflows.returns.at_rest import AtRest
    from workflows.returns.context import ReturnContext, RmaAborted, RmaEnded
    from workflows.returns.decisions import Decisions
    from workflows.returns.flows import Flows
    from workflows.returns.not_returned import NotReturned
    from workflows.returns.refunds import Refunds
    from workflows.returns.replacement import Replacement
    from workflows.returns.scans import Scans
    from workflows.returns.undo import Undo
    from workflows.returns.view import return_view
    from workflows.returns.waiting import Waiting
    from workflows.saga import forward_or_undo


@workflow.defn(name=RETURN_WORKFLOW)
class ReturnWorkflow:
    @workflow.init
    def __init__(self, input: ReturnWorkflowInput) -> None:
        ctx = ReturnContext(input)
        refunds = Refunds(ctx)
        rest, undo, scans = AtRest(ctx), Undo(ctx, NotReturned(ctx, refunds)), Scans(ctx)
        waiting = Waiting(ctx, scans, undo, rest)
        # What the handlers below delegate to; the rest is composed into the flows.
        self._ctx, self._at_rest, self._undo, self._scans = ctx, rest, undo, scans
        self._decisions = Decisions(ctx, rest)
        self._flows = Flows(ctx, undo, Replacement(ctx, undo), refunds, waiting)

    @workflow.run
    async def run(self, input: ReturnWorkflowInput) -> ReturnView:
        async def story() -> None:
            with contextlib.suppress(RmaEnded):  # it ended while waiting (withdrawn, expired), the customer told
                await forward_or_undo(self._flows.run(), stops_on=RmaAborted, undo=self._undo.abort)

        await to_the_end(story(), stopped=self._undo.stopped_by_operator, end=self._at_rest.end)
        return return_view(self._ctx).model_copy(update={"finished": True})

    # -- what the carrier tells us ----------------------------------------------------------------------------------

    @workflow.signal(name=ReturnSignal.RECORD_EVENT)
    def record_event(self, event: UpstreamEvent) -> None:
        """A carrier scan of the return parcel or the replacement (webhook)."""
        self._scans.receive(event)

    # -- decisions: customers, associates, operators; each answers once the RMA is settled ---------------------

    @workflow.update(name=ReturnUpdate.RECORD_RECEIPT)
    async def record_receipt(self, receipt: ReturnReceipt) -> ReturnView:
        """The items are back (a store associate, a warehouse person), with the inspection per line."""
        return await self._decisions.record_receipt(receipt)

    @workflow.signal(name=ReturnSignal.RECORD_WAREHOUSE_RECEIPT)
    def record_warehouse_receipt(self, receipt: WarehouseReceipt) -> None:
        """The ERP's ``return.received`` event: the warehouse received and inspected the parcel (a receipt like the
        one above, from the warehouse's own system, so a signal: nobody waits for its answer)."""
        self._decisions.warehouse_receipt(receipt)

    @workflow.update(name=ReturnUpdate.RESEND_LABEL)
    async def resend_label(self, request: ResendLabel) -> ReturnView:
        """Send the return label again (story 3: it must really reach the customer); each delivery is numbered."""
        return await self._decisions.resend_label(request)

    @workflow.update(name=ReturnUpdate.DECIDE_APPROVAL)
    async def decide_approval(self, decision: ApprovalDecision) -> ReturnView:
        """An operator approves or declines a claim above the limit."""
        return await self._decisions.decide_approval(decision)

    @workflow.update(name=ReturnUpdate.CANCEL)
    async def cancel(self, request: CancelReturn) -> ReturnView:
        """Withdraw the RMA while nothing has shipped, nothing is on its way back and no money has moved."""
        return await self._decisions.cancel(request)

    @workflow.query(name=VIEW)
    def view(self) -> ReturnView:
        """Where the RMA stands: what its Updates answer with, and its result once it has ended."""
        return return_view(self._ctx)

    # -- what each decision is refused for, before it enters the history (``Decisions`` says why) -------------

    @record_receipt.validator
    def _receipt_allowed(self, receipt: ReturnReceipt) -> None:
        self._decisions.check_receipt(receipt)

    @resend_label.validator
    def _resend_allowed(self, request: ResendLabel) -> None:
        self._decisions.check_resend(request)

    @decide_approval.validator
    def _decision_allowed(self, decision: ApprovalDecision) -> None:
        self._decisions.check_approval(decision)

    @cancel.validator
    def _cancel_allowed(self, request: CancelReturn) -> None:
        self._decisions.check_cancel(request)
