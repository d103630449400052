"""``OrderWorkflow``: one durable owner of an order, from payment through delivery to the end of its return window.

authorize → reserve → (confirmed, tell the customer) → for each parcel: buy label → capture its value → commit its
stock → (shipped, tell the customer) → follow every parcel until delivered → accept returns and claims until the
window closes.

This class is the order's public surface: ``run`` tells its story, and every signal, Update, validator and query
is a short delegation to the part that owns it, each a plain class built from one shared context
(``OrderContext``) around one state model (``OrderState``):

- ``Fulfilment`` the way to the customer; ``Payments`` every move of money; ``Stock`` holds and backorders;
- ``Shipping`` parcels, labels and address changes; ``Scans`` and ``Tracking`` the carrier's news until delivery;
- ``AfterSales`` the return window and its RMAs; ``Undo`` compensation and cancellation;
- ``AtRest`` search attributes, status events and continue-as-new.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.backorder import BackorderDecision
    from domain.contract import ORDER_WORKFLOW, VIEW, OrderSignal, OrderUpdate
    from domain.events import StockEvent, UpstreamEvent
    from domain.order_view import AddressChange, CancelRequest, OrderView, OrderWorkflowInput, RetryRequest
    from domain.returns import ReturnOutcome, ReturnRequest, ReturnView
    from workflows.kit.lifecycle import to_the_end
    from workflows.order.after_sales import AfterSales
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderAborted, OrderContext
    from workflows.order.fulfilment import Fulfilment
    from workflows.order.payments import Payments
    from workflows.order.provider_reports import ProviderReports
    from workflows.order.reship import Reship
    from workflows.order.scans import Scans
    from workflows.order.shipping import Shipping
    from workflows.order.stock import Stock
    from workflows.order.tracking import Tracking
    from workflows.order.undelivered import Undelivered
    from workflows.order.undo import Undo
    from workflows.order.untold import Untold
    from workflows.order.view import order_view
    from workflows.saga import forward_or_undo


@workflow.defn(name=ORDER_WORKFLOW)
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._ctx = ctx = OrderContext(input)
        self._at_rest = AtRest(ctx)
        self._payments = Payments(ctx)
        self._stock = Stock(ctx, self._payments, self._at_rest)
        self._scans = Scans(ctx, ProviderReports(ctx))
        self._shipping = Shipping(ctx, self._payments, self._stock, self._scans)
        self._undelivered = Undelivered(ctx, self._payments, self._at_rest, Reship(ctx, self._scans))
        self._tracking = Tracking(ctx, self._scans, self._shipping, self._at_rest, self._undelivered)
        self._fulfilment = Fulfilment(ctx, self._payments, self._stock, self._shipping, self._tracking)
        self._after_sales = AfterSales(ctx, self._payments, self._at_rest)
        self._undo = Undo(ctx, self._payments, self._stock, self._shipping, self._at_rest)
        self._untold = Untold(ctx, self._at_rest)

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderView:
        async def story() -> None:
            await forward_or_undo(self._fulfilment.run(), stops_on=OrderAborted, undo=self._undo.abort)
            await self._tracking.follow_delivery()
            await self._after_sales.keep_window_open()
            await self._undelivered.until_resolved()
            await self._undo.until_resolved()
            await self._untold.until_resolved()

        self._at_rest.start()
        await to_the_end(story(), stopped=self._undo.stopped_by_operator, end=self._at_rest.end)
        return order_view(self._ctx).model_copy(update={"finished": True})

    # -- customer decisions ----------------------------------------------------------------------------------

    @workflow.update(name=OrderUpdate.CANCEL)
    async def cancel(self, request: CancelRequest) -> OrderView:
        """Cancel before shipping: everything done so far is undone and the customer told once."""
        await self._undo.cancel(request)
        return self.view()

    @cancel.validator
    def _cancel_allowed(self, request: CancelRequest) -> None:
        """Refused once the money moves, the order has ended or a cancellation is under way."""
        self._undo.check_cancel(request)

    @workflow.update(name=OrderUpdate.CHANGE_SHIPPING_ADDRESS)
    async def change_shipping_address(self, change: AddressChange) -> OrderView:
        """A new address until the carrier's first scan: unused labels are voided and bought again, or the change
        is refused with the reason."""
        await self._shipping.change_address(change)
        return self.view()

    @change_shipping_address.validator
    def _address_change_allowed(self, change: AddressChange) -> None:
        """Refused once every parcel is with the carrier, or while another change is being applied."""
        self._shipping.check_address_change(change)

    @workflow.update(name=OrderUpdate.DECIDE_BACKORDER)
    async def decide_backorder(self, decision: BackorderDecision) -> OrderView:
        """The customer's answer to a shortage: ship what is there, wait for everything, or drop what is missing."""
        await self._stock.decide(decision)
        return self.view()

    @decide_backorder.validator
    def _backorder_decision_allowed(self, decision: BackorderDecision) -> None:
        """Refused when nothing waits for stock, or the choice was already made (by the customer or by default)."""
        self._stock.check_decision(decision)

    @workflow.update(name=OrderUpdate.OPEN_RETURN)
    async def open_return(self, request: ReturnRequest) -> ReturnView:
        """A return, exchange or claim from any channel, checked against what was delivered and not returned."""
        return await self._after_sales.open_return(request)

    @open_return.validator
    def _return_allowed(self, request: ReturnRequest) -> None:
        """Refused outside the return window, or for more than was delivered and not already returned."""
        self._after_sales.check_return(request)

    # -- an operator ---------------------------------------------------------------------------------------------

    @workflow.update(name=OrderUpdate.RETRY_ACTIONS)
    async def retry_actions(self, request: RetryRequest) -> OrderView:
        """Try again the steps that were refused (``action_required``), once a person has looked at them."""
        await self._undo.retry(request)
        await self._undelivered.retry(request)
        await self._untold.retry(request)
        return self.view()

    @retry_actions.validator
    def _retry_allowed(self, request: RetryRequest) -> None:
        """Refused when nothing in the order waits for a person."""
        if not self._undo.has_refused_steps() and not self._untold.waiting():  # both are retried too
            self._undelivered.check_retry(request)

    # -- what upstreams and RMAs tell us ---------------------------------------------------------------------

    @workflow.signal(name=OrderSignal.RECORD_EVENT)
    def record_event(self, event: UpstreamEvent) -> None:
        """A verified webhook from the ERP, the carrier or the payment provider."""
        self._scans.receive(event)

    @workflow.signal(name=OrderSignal.STOCK_CHANGED)
    def stock_changed(self, event: StockEvent) -> None:
        """The ERP says a SKU's stock moved: if this order waits for it, it tries to reserve again now."""
        self._stock.stock_changed(event)

    @workflow.signal(name=OrderSignal.AFTER_SALES_CLOSED)
    def after_sales_closed(self, outcome: ReturnOutcome) -> None:
        """An RMA of this order ended: what came back and what was refunded now count for later requests."""
        self._after_sales.closed(outcome)

    @workflow.query(name=VIEW)
    def view(self) -> OrderView:
        return order_view(self._ctx)
