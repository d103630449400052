"""The order's parcels leave: one parcel per warehouse holding the goods, each labelled and captured for its own
value, then the stock committed and the customer told with every tracking link. Until the carrier's first scan an
address change relabels: the unused label is voided and a new one bought."""

from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.shipping import BuyLabel, ShipmentRef, ShippingActivities
    from domain.contract import Refusal
    from domain.keys import shipment_reference
    from domain.order import Address, OrderLine
    from domain.order_view import ActionRequired, AddressChange
    from domain.shipments import ShipmentView
    from domain.shipping import Label
    from domain.status import FulfillmentStatus, PaymentStatus
    from notifications.notice import NoticeKind, Undone
    from workflows import policies
    from workflows.failures import error_text
    from workflows.kit.parcels import describe_label, shipment_from_label
    from workflows.order import rules
    from workflows.order.context import OrderAborted, OrderContext
    from workflows.order.payments import Payments
    from workflows.order.scans import Scans
    from workflows.order.state import Authorization, RefusedUndo
    from workflows.order.stock import Stock


# A relabel buys the new label before voiding the old one, so a refused label leaves the parcel on its live one
# (issue 14, scenarios 6-8). Histories from before void first.
RELABEL_BUY_FIRST = "relabel-buy-first"


@dataclass
class Shipping:
    ctx: OrderContext
    payments: Payments
    stock: Stock
    scans: Scans
    _relabeling: bool = field(default=False, init=False)
    """An address change is voiding a label and buying another: shipping and tracking wait for it."""

    @property
    def relabeling(self) -> bool:
        return self._relabeling

    async def ship_wave(self) -> None:
        """Everything held now leaves: one parcel per warehouse holding it, each labelled and captured for its own
        value; then the stock is committed and the customer told, with every tracking link. An authorization is
        captured once, so after each capture whatever is still owed is authorized afresh."""
        ctx, s = self.ctx, self.ctx.state
        captured_in_wave: list[Authorization] = []
        groups = s.held_by_location()
        ctx.journal.doing(f"Shipping {len(groups)} parcel(s): label, capture, stock committed")
        for number, units in enumerate(groups, start=1):
            lines = ctx.priced(units)
            value = sum(line.amount for line in lines)
            await self._buy_label(lines, value)
            ctx.checkpoint.stop_if_asked()
            captured_in_wave.append(await self.payments.capture(value, s.label_attempts[-1]))
            if number < len(groups):  # the next parcel of this wave needs an authorization of its own
                owed = ctx.unshipped_value() - sum(a.payment.captured for a in captured_in_wave if a.payment)
                await self.payments.authorize(owed)
        await self.stock.commit_held()
        # A label being replaced has no tracking code to give yet: tell the customer once the new one exists.
        await workflow.wait_condition(lambda: not self._relabeling)
        wave = [a.parcel for a in captured_in_wave]
        s.shipments = [x.model_copy(update={"captured": True}) if x.reference in wave else x for x in s.shipments]
        s.capturing = False
        remaining = ctx.unshipped_value()
        ctx.update(payment=PaymentStatus.PARTIALLY_CAPTURED if remaining else PaymentStatus.CAPTURED)
        await ctx.notify(NoticeKind.ORDER_SHIPPED, tracking_of=[ref for ref in wave if ref])
        await self.payments.authorize_what_waits()

    async def _buy_label(self, lines: list[OrderLine], value: int, *, captured: bool = False) -> None:
        label = await self._buy(value)
        self._labelled(label, lines, value, captured=captured)

    async def _buy(self, value: int) -> Label:
        """Buy the order's next label for the current address (recorded as an attempt before the call)."""
        ctx, s = self.ctx, self.ctx.state
        number = len(s.label_attempts) + 1
        reference = shipment_reference(ctx.order.order_id, number)
        s.label_attempts.append(reference)
        label: Label = await ctx.step(
            "buy_label",
            ShippingActivities.buy_label,
            BuyLabel(order_id=ctx.order.order_id, reference=reference, address=s.address, name=ctx.order.customer.name),
            describe_label,
            summary=f"Buying the label for shipment {number} ({ctx.journal.money(value)} of goods)",
        )
        return label

    def _labelled(self, label: Label, lines: list[OrderLine], value: int, *, captured: bool) -> None:
        """The parcel a bought label stands for joins the order's shipments, and its scans are followed."""
        ctx, s = self.ctx, self.ctx.state
        number = s.label_attempts.index(label.reference) + 1
        s.shipments.append(shipment_from_label(label, number, lines, value=value, captured=captured))
        ctx.update()
        self.scans.labelled(label.reference)

    # -- a new address -----------------------------------------------------------------------------------------

    async def change_address(self, change: AddressChange) -> None:
        """Parcels not yet labelled simply go to the new address. Labelled ones the carrier has not scanned yet are
        relabelled: their unused labels voided, new ones bought. If the carrier refuses to void one, nothing
        changes (labels already replaced are bought again for the old address) and we say why. The goods and the
        money are the same either way."""
        ctx, s = self.ctx, self.ctx.state
        previous, s.address = s.address, change.shipping_address
        ctx.journal.record("shipping_address", "info", f"changed via {change.requested_via}")
        self._relabeling = True
        try:
            await workflow.wait_condition(
                lambda: (
                    rules.labels_settled(s.shipments, s.label_attempts, s.labels_discarded)
                    or s.failure_reason is not None
                )
            )
            if s.failure_reason is not None:
                raise _address_refused("the order is being cancelled")
            if not self._address_applies():  # the carrier scanned the last parcel while we waited
                s.address = previous
                raise _address_refused("the parcel is already with the carrier")
            unused = [x for x in s.shipments if x.status is FulfillmentStatus.LABEL_CREATED]
            if workflow.patched(RELABEL_BUY_FIRST):
                relabelled = await self._replace_labels(unused, previous)
            else:
                relabelled = await self._relabel(unused, previous)
        finally:
            self._relabeling = False
        sent = [x.reference for x in relabelled if x.captured]
        if sent:  # the tracking the customer has is void: send the new one
            await ctx.notify(NoticeKind.ORDER_SHIPPED, tracking_of=sent)

    async def _replace_labels(self, unused: list[ShipmentView], previous: Address) -> list[ShipmentView]:
        """Buy a label for the new address for every unused one first, then void the old ones: a parcel is never
        without a live label. A refused purchase changes nothing (the labels just bought are voided, the old ones
        stay live); a refused void keeps that parcel, and those after it, on their old labels."""
        ctx, s = self.ctx, self.ctx.state
        bought: list[Label] = []
        for old in unused:
            try:
                bought.append(await self._buy(old.value))
            except OrderAborted:
                # No label for the new address: nothing changes, the parcels keep their live labels.
                s.address = previous
                await self._discard([s.label_attempts[-1], *(label.reference for label in bought)])
                raise _address_refused("no label could be bought for the new address") from None
        relabelled: list[ShipmentView] = []
        for index, (old, label) in enumerate(zip(unused, bought, strict=True)):
            try:
                await workflow.execute_activity_method(
                    ShippingActivities.void_label,
                    ShipmentRef(reference=old.reference),
                    summary=f"Voiding label {old.reference}: the address changed",
                    **policies.STEP,
                )
            except ActivityError as error:
                ctx.journal.record("void_label", "failed", error_text(error))
                await self._discard([later.reference for later in bought[index:]])
                if not relabelled:
                    s.address = previous
                    raise _address_refused("the carrier would not cancel the label already printed") from None
                kept = ", ".join(str(x.shipment_no) for x in unused[index:])
                raise _address_refused(
                    f"the carrier would not cancel the label already printed for shipment(s) {kept}; the others "
                    "go to the new address"
                ) from None
            ctx.mark_shipment(old.reference, FulfillmentStatus.CANCELED)
            ctx.journal.record("label_voided", "compensated", f"shipment {old.shipment_no}: address changed")
            self._labelled(label, old.lines, old.value, captured=old.captured)
            for authorization in s.authorizations:
                if authorization.parcel == old.reference:
                    authorization.parcel = label.reference
            relabelled.append(next(x for x in s.shipments if x.reference == label.reference))
        return relabelled

    async def _discard(self, references: list[str]) -> None:
        """Void labels bought (or perhaps bought) for an address change that did not happen; they never carried a
        parcel. A void the carrier refuses leaves a label the retailer pays for: a person is asked
        (``label void refused``) and the operator's retry voids it again, as for any refused undo step."""
        ctx, s = self.ctx, self.ctx.state
        for reference in references:
            try:
                await workflow.execute_activity_method(
                    ShippingActivities.void_label,
                    ShipmentRef(reference=reference),
                    summary=f"Voiding label {reference}: the address did not change",
                    **policies.COMPENSATION,
                )
            except ActivityError as error:
                ctx.journal.record("void_label", "failed", error_text(error))
                refused = RefusedUndo(step="label", target=reference)
                if refused not in s.refused_undo:
                    s.refused_undo.append(refused)
                ctx.needs_person(ActionRequired.LABEL_VOID_REFUSED, f"label {reference} of an address not taken")
            s.labels_discarded.append(reference)

    async def _relabel(self, unused: list[ShipmentView], previous: Address) -> list[ShipmentView]:
        """Before ``RELABEL_BUY_FIRST``: void every unused label, then buy one per parcel for the current address.
        When the carrier refuses a void, the address goes back and the parcels already voided are labelled again
        for it."""
        ctx, s = self.ctx, self.ctx.state
        voided: list[ShipmentView] = []
        refusal: str | None = None
        for old in unused:
            try:
                await workflow.execute_activity_method(
                    ShippingActivities.void_label,
                    ShipmentRef(reference=old.reference),
                    summary=f"Voiding label {old.reference}: the address changed",
                    **policies.STEP,
                )
            except ActivityError as error:
                ctx.journal.record("void_label", "failed", error_text(error))
                refusal = "the carrier would not cancel the label already printed"
                break
            ctx.mark_shipment(old.reference, FulfillmentStatus.CANCELED)
            ctx.journal.record("label_voided", "compensated", f"shipment {old.shipment_no}: address changed")
            voided.append(old)
        if refusal is not None:
            s.address = previous
        relabelled: list[ShipmentView] = []
        for old in voided:
            try:
                await self._buy_label(old.lines, old.value, captured=old.captured)
            except OrderAborted as abort:
                ctx.checkpoint.abort_at_next_step(abort)  # the saga sees it at its next step and compensates
                raise _address_refused("no label could be bought for the new address") from None
            new = next(x for x in s.shipments if x.reference == s.label_attempts[-1])
            for authorization in s.authorizations:
                if authorization.parcel == old.reference:
                    authorization.parcel = new.reference
            relabelled.append(new)
        if refusal is not None:
            raise _address_refused(refusal)
        return relabelled

    def check_address_change(self, change: AddressChange) -> None:
        s = self.ctx.state
        if s.status.is_terminal:
            raise ApplicationError(f"order is already {s.status.value}", type=Refusal.ADDRESS_CHANGE)
        if not self._address_applies():
            raise _address_refused("the parcel is already with the carrier")
        if self._relabeling:
            raise _address_refused("another address change is being applied")

    def _address_applies(self) -> bool:
        return rules.address_applies(self.ctx.state.shipments, self.ctx.unshipped())

    # -- undoing ---------------------------------------------------------------------------------------------

    async def void(self, reference: str) -> None:
        """Undo: void a label whose parcel never left (a no-op for a label the carrier never sold)."""
        ctx, s = self.ctx, self.ctx.state
        result = await workflow.execute_activity_method(
            ShippingActivities.void_label,
            ShipmentRef(reference=reference),
            summary=f"Undo: voiding label {reference}",
            **policies.COMPENSATION,
        )
        if result.voided:
            if Undone.LABEL_VOIDED not in s.undone:
                s.undone.append(Undone.LABEL_VOIDED)
            ctx.note_undone("label voided", result.reference)
        ctx.mark_shipment(reference, FulfillmentStatus.CANCELED)


def _address_refused(reason: str) -> ApplicationError:
    return ApplicationError(f"address not changed: {reason}", type=Refusal.ADDRESS_CHANGE)
