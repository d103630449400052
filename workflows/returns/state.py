"""Everything an after-sales workflow knows, in one model, carried over whole when it continues as new (an RMA may
wait weeks for a parcel or an operator). Field names are those of the runs already under way (their carried-over
payloads validate as this model); fields added since have defaults. Only the workflow writes or reads it."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.payment import Payment
from domain.returns import ApprovalDecision, CancelReturn, ReturnedLine, ReturnReceipt, ReturnStatus
from domain.shipments import ShipmentView
from domain.timeline import MessageRecord, TimelineEntry
from notifications.notice import Undone

Compensation = Literal["return_label", "replacement_stock", "replacement_label"]
"""A step that bought or held something for the RMA, undone (newest first) if the RMA cannot go on."""


class ReturnState(BaseModel):
    status: ReturnStatus = ReturnStatus.REQUESTED
    timeline: list[TimelineEntry] = Field(default_factory=list)
    messages_sent: list[str] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    """The order's captured payments as the refunds left them, oldest first (within this RMA's budget)."""
    refunded: int = 0
    charged: int = 0
    """Charged anew for an exchange whose item never came back (``unreturned_exchange=charge``)."""
    returned: list[ReturnedLine] = Field(default_factory=list)
    return_shipment: ShipmentView | None = None
    replacement_shipment: ShipmentView | None = None
    replacement_shipped: bool = False
    replacement_shipped_at: datetime | None = None
    """When a claim began waiting for its replacement's delivery."""
    store_drop_off: bool = False
    """The items come back over a store's counter, not by post: no return label (a ``store`` channel RMA)."""
    started: bool = False
    """The first steps (labels, replacement, first message) are done: a later run goes straight to waiting."""
    no_return: str | None = None
    """Why the RMA can no longer be cancelled, once it cannot."""
    waiting_since: datetime | None = None
    approval_due: datetime | None = None
    """When a claim waiting for an operator is overdue (``ReturnPolicy.approval_deadline``); ``None``: no deadline
    (claims opened before there was one)."""
    reminded: bool = False
    expiring: bool = False
    """The expiry has begun (the label is being voided): a resend or a cancellation is refused, a receipt is not."""
    seen_events: list[str] = Field(default_factory=list)
    latest_scan_at: dict[str, datetime] = Field(default_factory=dict)
    return_scanned_at: datetime | None = None
    """When (workflow time) the return parcel's latest scan was applied: its transit deadline counts from it."""
    action_reason: str | None = None
    """Why the RMA is ``requires_action`` (indexed as ``ActionReason``), while it is."""
    runs: int = 0
    """How many runs came before this one, for the timeline and for tests."""

    to_undo: list[Compensation] = Field(default_factory=list)
    """What was begun and is not past its point of no return, oldest first: each recorded *before* its step."""
    undone: list[Undone] = Field(default_factory=list)
    # Decisions handed in by Updates and signals; a run continues as new only when none is pending.
    receipt: ReturnReceipt | None = None
    cancel: CancelReturn | None = None
    decision: ApprovalDecision | None = None

    @property
    def pending(self) -> bool:
        """A decision is in and not yet acted on."""
        return self.receipt is not None or self.cancel is not None or self.decision is not None
