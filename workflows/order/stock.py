"""The order's stock: ERP holds, and backorders (story 4). When the ERP cannot hold everything the customer is told
at once what is missing and chooses: ship what is there now and the rest later, wait and ship together, or drop the
missing items. With no answer by the deadline the retailer's default applies. Then the order waits for the missing
items, woken by the ERP's stock events or a periodic recheck, renewing the authorization before it lapses."""

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import HoldRef, InventoryActivities, ReceiveReturn, ReserveStock
    from domain.backorder import Backorder, BackorderChoice, BackorderDecision, ShortLine
    from domain.contract import Refusal
    from domain.events import StockEvent
    from domain.inventory import Hold, HoldStatus, ReturnedStock, StockRequest
    from domain.keys import hold_back_receipt_id, hold_id
    from domain.order import OrderLine
    from domain.order_view import FailureReason
    from domain.status import OrderStatus
    from notifications.notice import NoticeKind, Undone
    from workflows import policies
    from workflows.failures import error_text
    from workflows.order import rules
    from workflows.order.at_rest import AtRest
    from workflows.order.context import OrderAborted, OrderContext
    from workflows.order.payments import Payments
    from workflows.order.state import HeldStock

# A partial restock's hold the ERP refuses to release is kept and used; before, the refusal failed the workflow.
UNRELEASED_PARTIAL_HOLD_KEPT = "unreleased-partial-hold-kept"


# A hold the undo finds committed (the commit applied, its answer lost, its retry refused) is booked back on hand;
# before, it was marked released and stayed committed for goods that never left.
COMMITTED_HOLD_BOOKED_BACK = "committed-hold-booked-back"

# A cancellation that arrived while the stock was being held stops the order before the customer is asked to choose
# what to do about missing items (issue 14, scenario 9). Histories from before sent the choice first.
CANCEL_BEFORE_CHOICE = "cancel-before-backorder-choice"


@dataclass
class Stock:
    ctx: OrderContext
    payments: Payments
    rest: AtRest
    _choice_applied: bool = field(default=False, init=False)
    """The order acted on the backorder choice (or the deadline's default): the customer's Update answers."""
    _waiting: bool = field(default=False, init=False)
    """The order rests until stock arrives: a changed backorder choice can be taken now."""
    _deciding: bool = field(default=False, init=False)
    """A backorder decision is being applied: another waits for its answer."""
    _rethink: bool = field(default=False, init=False)
    """The choice changed while the order waited: look again at what may ship."""

    async def reserve(self, lines: list[OrderLine]) -> Hold:
        """Hold ``lines`` in the ERP as the order's next hold (recorded before the call, like authorizations)."""
        ctx, s = self.ctx, self.ctx.state
        hold = HeldStock(hold_id=hold_id(ctx.order.order_id, len(s.holds) + 1))
        s.holds.append(hold)
        result: Hold = await ctx.step(
            "reserve_stock",
            InventoryActivities.reserve,
            ReserveStock(
                order_id=ctx.order.order_id,
                hold_id=hold.hold_id,
                lines=[StockRequest(sku=line.sku, quantity=line.quantity) for line in lines],
            ),
            lambda h: f"held {h.units_held} units",
            summary=f"Holding {sum(line.quantity for line in lines)} units as {hold.hold_id}",
        )
        hold.lines = {line.sku: line.held for line in result.lines if line.held}
        hold.restock_dates = {line.sku: line.restock_date for line in result.lines if line.short and line.restock_date}
        hold.locations = {line.sku: line.location for line in result.lines if line.held and line.location}
        hold.status = "held"
        if result.short_lines:
            short = ", ".join(f"{line.sku} (missing {line.short})" for line in result.short_lines)
            ctx.journal.record("reserve_stock", "info", f"short: {short}")
        return result

    # -- a shortage, settled with the customer ---------------------------------------------------------------

    async def settle_backorder(self) -> None:
        """Tell the customer what is short and their choices; act on their answer or, by the deadline, the
        default (and say which applied)."""
        ctx, s = self.ctx, self.ctx.state
        if s.cancel is not None and workflow.patched(CANCEL_BEFORE_CHOICE):
            ctx.checkpoint.stop_if_asked()  # cancelled while the stock was being held: never ask them to choose
        missing = ctx.missing()
        restock = {sku: day for hold in s.holds for sku, day in hold.restock_dates.items()}
        s.backorder = Backorder(
            lines=[ShortLine(sku=sku, missing=n, restock_date=restock.get(sku)) for sku, n in sorted(missing.items())],
            decide_by=workflow.now() + ctx.policy.backorder_decision_timeout,
            default=ctx.policy.backorder_default,
        )
        ctx.set_backordered_skus()
        ctx.update(status=OrderStatus.REQUIRES_ACTION)
        short = ", ".join(f"{line.missing} x {line.sku}" for line in s.backorder.lines)
        ctx.journal.doing(
            f"Waiting for the customer's choice on {short} until {s.backorder.decide_by:%Y-%m-%d %H:%M} UTC"
        )
        self.rest.come_to_rest()  # before the message: a stock event finds the order by BackorderedSkus from now on
        await ctx.notify(NoticeKind.ORDER_BACKORDERED)
        with contextlib.suppress(TimeoutError):
            await self.rest.rest_until(
                lambda: self.answered() or s.cancel is not None,
                give_up_after=ctx.policy.backorder_decision_timeout,
            )
        ctx.checkpoint.stop_if_asked()
        if not self.answered():
            s.backorder = s.backorder.model_copy(update={"choice": s.backorder.default, "decided_by": "default"})
            ctx.journal.record("backorder", "info", f"no answer by the deadline: {s.backorder.default.value} applies")
        if self.choice() is BackorderChoice.CANCEL_MISSING:
            ctx.cancel_lines(ctx.missing(), FailureReason.CANCELED_MISSING_ITEMS)
            ctx.set_backordered_skus()
            if not ctx.unshipped():
                raise OrderAborted(FailureReason.OUT_OF_STOCK, sorted(missing))
        ctx.update(status=OrderStatus.CONFIRMED)
        self._choice_applied = True
        await ctx.notify(NoticeKind.BACKORDER_DECIDED)

    def answered(self) -> bool:
        return self.ctx.state.backorder is not None and self.ctx.state.backorder.choice is not None

    def choice(self) -> BackorderChoice | None:
        backorder = self.ctx.state.backorder
        return backorder.choice if backorder else None

    def holding_back(self) -> bool:
        """The customer chose to wait for everything and something is still missing: nothing ships yet."""
        return bool(self.ctx.missing()) and self.choice() is BackorderChoice.WAIT_FOR_ALL

    async def decide(self, decision: BackorderDecision) -> None:
        """The customer's answer to a shortage; returns once the order acts on it, or once the undo it led to
        (nothing left to ship) has run, whatever the order's status then (a refused void leaves it to a person)."""
        ctx, s = self.ctx, self.ctx.state
        backorder = s.backorder
        assert backorder is not None  # the validator guarantees it
        changed = backorder.choice is not None
        s.backorder = backorder.model_copy(update={"choice": decision.choice, "decided_by": "customer"})
        ctx.journal.record("backorder", "info", f"{decision.choice.value} chosen via {decision.requested_via}")
        if changed:  # the order was waiting for stock on the choice made before
            self._deciding = True
            try:
                await self._change(decision.choice)
            finally:
                self._deciding = False
            return
        # The status leaving requires_action is when it used to answer (histories replay the same); a refused undo
        # step keeps that status, so the choice applied or the undo finished answers too.
        await workflow.wait_condition(
            lambda: s.status is not OrderStatus.REQUIRES_ACTION or self._choice_applied or ctx.checkpoint.unwound
        )

    async def _change(self, choice: BackorderChoice) -> None:
        """A new choice while the order waits for stock. Dropping what waits after a parcel left is the undo of what
        has not shipped (its authorization voided, the customer told); before, it is the choice made anew."""
        ctx = self.ctx
        if choice is BackorderChoice.CANCEL_MISSING and ctx.state.shipped_any:
            ctx.checkpoint.abort_at_next_step(OrderAborted(FailureReason.CANCELED_MISSING_ITEMS))
            await workflow.wait_condition(lambda: ctx.checkpoint.unwound)
            return
        if choice is BackorderChoice.CANCEL_MISSING:
            missing = ctx.missing()
            ctx.cancel_lines(missing, FailureReason.CANCELED_MISSING_ITEMS)
            ctx.set_backordered_skus()
            if not ctx.unshipped():  # nothing was in stock: the order is cancelled
                ctx.checkpoint.abort_at_next_step(OrderAborted(FailureReason.OUT_OF_STOCK, sorted(missing)))
                await workflow.wait_condition(lambda: ctx.checkpoint.unwound)
                return
        await ctx.notify(NoticeKind.BACKORDER_DECIDED)
        self._rethink = True

    def check_decision(self, decision: BackorderDecision) -> None:
        """The first answer, or a change of it while nothing of it was acted on (``rules.backorder_change_refused``)
        and the order rests waiting for stock."""
        ctx, s = self.ctx, self.ctx.state
        if s.backorder is None:
            raise ApplicationError("nothing in this order is waiting for stock", type=Refusal.DECISION)
        if s.status.is_terminal or s.cancel is not None:
            raise ApplicationError(f"order is {s.status.value}", type=Refusal.DECISION)
        current = s.backorder.choice
        if current is None:
            return
        refusal = rules.backorder_change_refused(
            current, decision.choice, still_missing=bool(ctx.missing()), parcel_started=bool(s.label_attempts)
        )
        if refusal is not None:
            raise ApplicationError(f"{refusal}, by {s.backorder.decided_by}", type=Refusal.DECISION)
        if self._deciding or not self._waiting or ctx.checkpoint.abort_pending is not None:
            raise ApplicationError("the order is acting on a decision or shipping: ask again", type=Refusal.DECISION)

    # -- waiting for the missing items -----------------------------------------------------------------------

    async def wait_for_stock(self) -> None:
        """Wait for missing items: woken by an ERP stock event for one of them, or by the recheck interval. Renew
        the authorization before it lapses; give up on what is still missing after the longest wait."""
        ctx, s = self.ctx, self.ctx.state
        await self.rest.continue_as_new_if_long()
        ctx.set_backordered_skus()
        now = workflow.now()
        assert s.started_at is not None
        give_up_at = s.started_at + ctx.policy.backorder_max_wait
        current = s.current_authorization()
        renew_at = current.at + ctx.policy.authorization_validity if current else give_up_at
        wake_at = min(give_up_at, renew_at, now + ctx.policy.backorder_recheck_interval)
        missing = ", ".join(f"{n} x {sku}" for sku, n in sorted(ctx.missing().items()))
        ctx.journal.doing(f"Waiting for stock of {missing}; authorization renews at {renew_at:%Y-%m-%d %H:%M} UTC")
        self._waiting = True
        try:
            with contextlib.suppress(TimeoutError):
                await self.rest.rest_until(
                    lambda: (
                        s.restock_seen
                        or s.cancel is not None
                        or ctx.checkpoint.abort_pending is not None
                        or self._rethink
                    ),
                    give_up_after=max(wake_at - now, timedelta(seconds=1)),
                )
        finally:
            self._waiting = False
        now = workflow.now()
        if s.cancel is not None or ctx.checkpoint.abort_pending is not None or self._rethink:
            self._rethink = False
            return  # the saga stops at its next checkpoint, or looks again at what may ship
        if now >= give_up_at:
            ctx.journal.record("backorder", "failed", "still missing after the longest wait")
            raise OrderAborted(FailureReason.RESTOCK_TOO_LATE)
        if now >= renew_at:
            await self.payments.renew()
            if not ctx.unshipped():
                return
        s.restock_seen = False
        await self._reserve_missing()

    async def _reserve_missing(self) -> None:
        """Try to hold everything still missing; a partial hold is given back (the order waits on, whole). If the
        ERP refuses to take it back, the order keeps it: its units are held for this order, so they ship with the
        rest (or are released by the undo), and only what it lacks is still awaited."""
        ctx = self.ctx
        hold = await self.reserve(ctx.priced(ctx.missing()))
        if hold.short_lines:
            try:
                await workflow.execute_activity_method(
                    InventoryActivities.release,
                    HoldRef(hold_id=hold.hold_id),
                    summary=f"Releasing {hold.hold_id}: the restock is not enough yet",
                    **policies.COMPENSATION,
                )
            except ActivityError as error:
                if not workflow.patched(UNRELEASED_PARTIAL_HOLD_KEPT):
                    raise
                ctx.journal.record("release_stock", "failed", error_text(error))
                ctx.journal.record("backorder", "info", f"{hold.hold_id} kept: its units ship with the rest")
                ctx.set_backordered_skus()
                return
            self._held_stock(hold.hold_id).status = "released"
            ctx.journal.record("backorder", "info", "restock not enough yet; still waiting")
            return
        ctx.journal.record("backorder", "succeeded", "missing items now held")
        ctx.set_backordered_skus()

    def stock_changed(self, event: StockEvent) -> None:
        """The ERP says a SKU's stock moved: if this order waits for it, try to reserve again now."""
        ctx, s = self.ctx, self.ctx.state
        if event.event_id in s.seen_events:
            return
        s.seen_events.append(event.event_id)
        if ctx.missing()[event.sku] and event.available > 0:
            s.restock_seen = True
            ctx.journal.record("backorder", "info", f"{event.sku} back in stock ({event.available} available)")

    # -- the stock leaves, or goes back ----------------------------------------------------------------------

    async def commit_held(self) -> None:
        """The goods leave the warehouse: every hold still held is committed. When the ERP refuses one, the wave
        cannot leave: the holds it already committed are marked stranded, for the undo to book back on hand."""
        ctx = self.ctx
        committed: list[HeldStock] = []
        for hold in [hold for hold in ctx.state.holds if hold.status == "held"]:
            try:
                await ctx.step(
                    "commit_stock",
                    InventoryActivities.commit,
                    HoldRef(hold_id=hold.hold_id),
                    summary=f"Committing {hold.hold_id}: the goods leave the warehouse",
                )
            except OrderAborted:
                for done in committed:
                    done.stranded = True
                raise
            hold.status = "committed"
            committed.append(hold)

    async def release(self, hold_id: str) -> None:
        """Undo: give a hold back (a no-op for a hold the ERP never made)."""
        ctx, s = self.ctx, self.ctx.state
        try:
            hold = await workflow.execute_activity_method(
                InventoryActivities.release,
                HoldRef(hold_id=hold_id),
                summary=f"Undo: releasing {hold_id}",
                **policies.COMPENSATION,
            )
        except ActivityError as error:
            if not (_refused_as_committed(error) and workflow.patched(COMMITTED_HOLD_BOOKED_BACK)):
                raise
            hold = None
            committed = True
        else:
            committed = hold is not None and hold.status is HoldStatus.COMMITTED
            if committed and not workflow.patched(COMMITTED_HOLD_BOOKED_BACK):
                committed = False
        if committed:
            # The ERP committed it after all: it cannot be released, only booked back on hand.
            self._held_stock(hold_id).status = "committed"
            await self.book_back(hold_id)
            return
        self._held_stock(hold_id).status = "released"
        if hold is not None and hold.units_held:
            if Undone.STOCK_RELEASED not in s.undone:
                s.undone.append(Undone.STOCK_RELEASED)
            ctx.note_undone("stock released", f"{hold.units_held} units")

    async def book_back(self, hold_id: str) -> None:
        """Undo of a commit whose parcels never left: the ERP cannot release a committed hold (``409
        hold_committed``), so its units are reported back on hand as a return receipt named after the hold."""
        ctx, s = self.ctx, self.ctx.state
        hold = self._held_stock(hold_id)
        await workflow.execute_activity_method(
            InventoryActivities.receive_return,
            ReceiveReturn(
                order_id=ctx.order.order_id,
                receipt_id=hold_back_receipt_id(hold_id),
                lines=[
                    ReturnedStock(sku=sku, quantity=units, disposition="restock")
                    for sku, units in sorted(hold.lines.items())
                ],
            ),
            summary=f"Undo: booking {hold_id} back on hand, its parcels never left",
            **policies.COMPENSATION,
        )
        hold.status = "returned"
        if Undone.STOCK_RELEASED not in s.undone:
            s.undone.append(Undone.STOCK_RELEASED)
        ctx.note_undone("stock booked back", f"{sum(hold.lines.values())} units")

    def _held_stock(self, hold_id: str) -> HeldStock:
        return next(hold for hold in self.ctx.state.holds if hold.hold_id == hold_id)


def _refused_as_committed(error: ActivityError) -> bool:
    """The ERP refused a release because the hold is committed (``409 hold_committed``)."""
    cause = error.cause
    if not isinstance(cause, ApplicationError) or not cause.details:
        return False
    details = cause.details[0]
    return isinstance(details, dict) and details.get("code") == "hold_committed"
