"""What a workflow cost, read from its history: billed actions (``hub.verify.actions``), events and bytes, summed over
every run of the workflow id (a continue-as-new chain is one order, however many runs it took)."""

from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from hub.verify.actions import Actions, count_actions, history_bytes


@dataclass(frozen=True)
class Cost:
    actions: Actions
    events: int
    bytes: int
    activities: int
    """Activities scheduled (not attempts): how many steps the workflow ran."""

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.actions + other.actions,
            self.events + other.events,
            self.bytes + other.bytes,
            self.activities + other.activities,
        )


async def runs(client: Client, workflow_id: str) -> list[list[HistoryEvent]]:
    """Every run's events, newest run first: each run's start names the run it continued from."""
    found: list[list[HistoryEvent]] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events = list(history.events)
        found.append(events)
        first = events[0] if events else None
        if first is None or first.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            return found
        previous = first.workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous:
            return found
        run_id = previous


async def workflow_cost(client: Client, workflow_id: str) -> Cost:
    """Actions, events, bytes and activities of a workflow id over all its runs."""
    total = Cost(Actions(), 0, 0, 0)
    for events in await runs(client, workflow_id):
        scheduled = sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in events)
        total += Cost(count_actions(events), len(events), history_bytes(events), scheduled)
    return total
