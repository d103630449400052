"""What a workflow run costs on Temporal Cloud, counted from its event history with Cloud's billing rules.

Temporal Cloud bills *actions* (https://docs.temporal.io/cloud/actions). The ones a history shows:

- a workflow start, including a continue-as-new run and a child workflow (the child's start and its execution:
  two, counted here as one on the parent's initiation and one on the child's own start);
- every activity attempt (the history records only the last attempt's start, with its attempt number);
- every timer started, including the implicit timer of ``wait_condition(timeout=…)``;
- every search-attribute upsert command (all attributes in one command: one action; those given at start and
  ``TemporalChangeVersion`` alone are free);
- every signal received, and every signal a workflow sends;
- every accepted update (a rejected update is billed too but leaves no event);
- local activities: one action per workflow task that recorded any, however many;
- a workflow options update.

Not in a history, so not counted: queries, activity heartbeats, rejected updates, exports, schedules.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

_CHANGE_VERSION = "TemporalChangeVersion"

_ONE_EACH: dict[int, str] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow started",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signal",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child workflow",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: "options updated",
}


@dataclass
class Actions:
    """Billed actions of one or more runs, by kind (``activity``, ``timer``, ``search attributes``…)."""

    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def __add__(self, other: "Actions") -> "Actions":
        return Actions(self.by_kind + other.by_kind)


def count_actions(events: Iterable[HistoryEvent]) -> Actions:
    """The billed actions of one run's history."""
    by_kind: Counter[str] = Counter()
    tasks_with_markers: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind in _ONE_EACH:
            by_kind[_ONE_EACH[kind]] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            by_kind["activity"] += max(event.activity_task_started_event_attributes.attempt, 1)
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            names = set(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
            if names - {_CHANGE_VERSION}:
                by_kind["search attributes"] += 1
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            # Local activities: Cloud counts the markers of one workflow task as a single action.
            tasks_with_markers.add(event.marker_recorded_event_attributes.workflow_task_completed_event_id)
    if tasks_with_markers:
        by_kind["local activities"] += len(tasks_with_markers)
    return Actions(by_kind)


def history_bytes(events: Iterable[HistoryEvent]) -> int:
    """The history's size as the server stores it (serialized events)."""
    return sum(event.ByteSize() for event in events)
