"""What a workflow tells whoever reads it: its timeline (what happened when), its current details in the Temporal
UI (what it does now), and amounts written for people."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.currency import format_amount
    from domain.timeline import Outcome, TimelineEntry


class Journal:
    def __init__(self, timeline: list[TimelineEntry], currency: str) -> None:
        self._timeline = timeline  # the state model's own list: it is carried over with the state
        self._currency = currency

    def record(self, step: str, outcome: Outcome, detail: str | None = None) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))

    def doing(self, what: str) -> None:
        """What the workflow is doing now, shown as its current details in the Temporal UI."""
        workflow.set_current_details(what)

    def money(self, amount: int) -> str:
        return format_amount(amount, self._currency)
