"""An RMA waiting for someone else: the parcel to come back (one reminder, then expiry while nothing is on its
way), or an operator's decision on a claim. A cancellation that comes in while waiting withdraws the RMA."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.returns import ApprovalDecision, ApprovalTimeout, ReturnStatus
    from domain.status import FulfillmentStatus
    from notifications.notice import NoticeKind, ParcelFate
    from workflows.returns.at_rest import AtRest
    from workflows.returns.context import (
        APPROVAL_OVERDUE,
        RETURN_PARCEL_LOST,
        RETURN_PARCEL_SENT_BACK,
        RETURNED_NOT_INSPECTED,
        ReturnContext,
        RmaEnded,
    )
    from workflows.returns.scans import Scans
    from workflows.returns.undo import Undo

_REPLACEMENT_ENDS = frozenset({FulfillmentStatus.DELIVERED, FulfillmentStatus.RETURNED_TO_SENDER})
"""A replacement in one of these is no longer on its way to the customer."""
_APPROVAL_ACTION = "POST /returns/{}/approval"
"""What resolves a claim that requires action."""

RETURN_PARCEL_DEADLINE_PATCH = "rma-return-parcel-deadline"
"""A scanned return parcel used to be waited for with no deadline: histories from then replay that way."""


@dataclass
class Waiting:
    """Each wait has its deadline (the reminder, the expiry) or a person in the loop (the operator)."""

    ctx: ReturnContext
    scans: Scans
    undo: Undo
    rest: AtRest

    async def for_receipt(self) -> None:
        """Wait for the receipt: remind once, expire when nothing is on its way, honour a cancellation."""
        s, policy = self.ctx.state, self.ctx.policy
        while s.receipt is None:
            if s.cancel is not None:
                await self.undo.withdraw()
                raise RmaEnded
            await self.rest.continue_as_new_if_long()
            if s.receipt is not None:
                break
            if s.cancel is not None:
                continue
            if s.action_reason is not None:
                await self._for_a_person()
                continue
            follows_the_parcel = workflow.patched(RETURN_PARCEL_DEADLINE_PATCH)
            if follows_the_parcel and self.scans.return_parcel_scanned():
                await self._for_the_parcel()
                continue
            now = workflow.now()
            assert s.waiting_since is not None
            moving = self.scans.return_parcel_moving()
            expires_at = s.waiting_since + policy.expires_after
            if not moving and now >= expires_at:
                await self.undo.expire()  # ends the RMA, unless the items were received meanwhile
                continue
            remind_at = s.waiting_since + policy.reminder_after
            remind = s.return_shipment is not None and not s.reminded and not moving and remind_at < expires_at
            if remind and now >= remind_at:
                s.reminded = True
                await self.ctx.notify(NoticeKind.RETURN_REMINDER)
                continue
            wake = None if moving else (remind_at if remind else expires_at)
            until = f"until {wake:%Y-%m-%d %H:%M} UTC" if wake else "(it is on its way)"
            with contextlib.suppress(TimeoutError):  # a reminder or the expiry is due: the loop sees which
                await self.rest.rest_until(
                    self._something_to_do(follows_the_parcel, s.return_scanned_at),
                    f"Waiting for the returned items {until}",
                    give_up_after=None if wake is None else wake - now,
                )

    def _something_to_do(self, follows_the_parcel: bool, scanned: datetime | None) -> Callable[[], bool]:
        """A receipt, a cancellation, a long history, or a scan of the return parcel since ``scanned`` when the
        parcel is followed (its own deadline runs from then; runs from before it had one never wake for it)."""
        s = self.ctx.state
        return lambda: (
            s.receipt is not None
            or s.cancel is not None
            or self.rest.history_is_long()
            or (follows_the_parcel and s.return_scanned_at != scanned)
        )

    async def _for_the_parcel(self) -> None:
        """The carrier has the return parcel: wait for the receipt until ``return_transit_limit`` after its latest
        scan. Sent back to the customer, or still not received then: a person must act, the customer is told once."""
        ctx, s = self.ctx, self.ctx.state
        parcel = s.return_shipment
        assert parcel is not None and s.waiting_since is not None
        if parcel.status is FulfillmentStatus.RETURNED_TO_SENDER:
            await self._not_arriving(RETURN_PARCEL_SENT_BACK, ParcelFate.RETURNED_TO_SENDER)
            return
        seen = s.return_scanned_at
        deadline = (seen or s.waiting_since) + ctx.policy.return_transit_limit
        now = workflow.now()
        if now >= deadline and parcel.status is FulfillmentStatus.DELIVERED:
            self.ctx.requires_action(RETURNED_NOT_INSPECTED)  # ours to chase, not the customer's
            return
        if now >= deadline:
            await self._not_arriving(RETURN_PARCEL_LOST, ParcelFate.LOST)
            return
        with contextlib.suppress(TimeoutError):  # the deadline is due: the loop sees it
            await self.rest.rest_until(
                lambda: (
                    s.receipt is not None
                    or s.cancel is not None
                    or s.return_scanned_at != seen
                    or self.rest.history_is_long()
                ),
                f"Waiting for the return parcel ({parcel.status.value}) until {deadline:%Y-%m-%d %H:%M} UTC",
                give_up_after=deadline - now,
            )

    async def _not_arriving(self, reason: str, fate: ParcelFate) -> None:
        self.ctx.requires_action(reason)
        await self.ctx.notify(NoticeKind.RETURN_NOT_ARRIVED, fate=fate)

    async def _for_a_person(self) -> None:
        """``requires_action``: no reminder and no expiry run while a person must act (the label never reached the
        customer); the receipt or a cancellation is still honoured."""
        s = self.ctx.state
        reason = s.action_reason
        await self.rest.rest_until(
            lambda: (
                s.action_reason != reason
                or s.receipt is not None
                or s.cancel is not None
                or self.rest.history_is_long()
            ),
            f"Waiting for a person: {reason}",
        )

    async def for_replacement(self) -> bool:
        """Wait for the carrier to deliver the replacement (its scans come in as signals); False when it was sent
        back or not delivered within ``replacement_delivery_limit`` of shipping."""
        ctx, s = self.ctx, self.ctx.state
        if s.replacement_shipped_at is None:
            s.replacement_shipped_at = workflow.now()
        deadline = s.replacement_shipped_at + ctx.policy.replacement_delivery_limit

        def arrived_or_not() -> bool:
            parcel = s.replacement_shipment
            return parcel is not None and parcel.status in _REPLACEMENT_ENDS

        while not arrived_or_not():
            await self.rest.continue_as_new_if_long()
            left = deadline - workflow.now()
            if left <= timedelta(0):
                return False
            with contextlib.suppress(TimeoutError):  # the deadline is due: the loop sees it
                await self.rest.rest_until(
                    lambda: arrived_or_not() or self.rest.history_is_long(),
                    f"Waiting for the replacement's delivery until {deadline:%Y-%m-%d %H:%M} UTC",
                    give_up_after=left,
                )
        parcel = s.replacement_shipment
        return parcel is not None and parcel.status is FulfillmentStatus.DELIVERED

    async def for_decision(self) -> ApprovalDecision:
        """Wait for an operator's decision on a claim above the limit until its deadline; then the policy's
        default decision, or a person asked for (``requires_action``), who is then waited for."""
        ctx, s = self.ctx, self.ctx.state
        while s.decision is None:
            if s.cancel is not None:
                await self.undo.withdraw()
                raise RmaEnded
            await self.rest.continue_as_new_if_long()
            due = s.approval_due if s.status is ReturnStatus.AWAITING_APPROVAL else None
            now = workflow.now()
            if due is not None and now >= due:
                await self._approval_overdue()
                continue
            amount = ctx.journal.money(ctx.input.value)
            doing = (
                f"Requires action: an operator's approval of {amount} ({_APPROVAL_ACTION.format(ctx.request.rma_id)})"
                if s.status is ReturnStatus.REQUIRES_ACTION
                else f"Waiting for an operator's approval of {amount}"
                + (f" until {due:%Y-%m-%d %H:%M} UTC" if due else "")
            )
            with contextlib.suppress(TimeoutError):  # overdue: the loop applies the policy
                await self.rest.rest_until(
                    lambda: s.decision is not None or s.cancel is not None or self.rest.history_is_long(),
                    doing,
                    give_up_after=None if due is None else due - now,
                )
        if s.action_reason == APPROVAL_OVERDUE:
            ctx.action_resolved(s.status)  # an operator has decided: the flow settles the claim from here
        return s.decision

    async def _approval_overdue(self) -> None:
        """No operator decided in time: the retailer's default decision, or a person asked for, visibly; either
        way the order stops waiting for this claim."""
        ctx, s, policy = self.ctx, self.ctx.state, self.ctx.policy
        waited = f"no operator decided within {policy.approval_deadline}"
        if policy.approval_timeout_decision is ApprovalTimeout.REQUIRES_ACTION:
            action = _APPROVAL_ACTION.format(ctx.request.rma_id)
            ctx.journal.record("approval", "failed", f"{waited}: approve or decline it with {action}")
            ctx.requires_action(APPROVAL_OVERDUE)
            await self.rest.tell_order(awaiting_a_person=True)
            return
        approved = policy.approval_timeout_decision is ApprovalTimeout.APPROVE
        s.decision = ApprovalDecision(approved=approved, operator="policy", note=waited)
        ctx.journal.record("approval", "info", f"{'approved' if approved else 'declined'} by policy: {waited}")
