"""Billed actions counted from histories with Temporal Cloud's rules, and the happy path's budget (issue 7)."""

from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from hub.verify.actions import count_actions, history_bytes

HISTORIES = Path(__file__).parent.parent / "replay" / "histories"
HAPPY_PATH_BUDGET = 15


def _recorded(stem: str) -> list[HistoryEvent]:
    return list(WorkflowHistory.from_json(stem, (HISTORIES / f"{stem}.json").read_text()).events)


def test_every_attempt_timer_signal_and_upsert_counts_but_change_version_and_workflow_tasks_do_not() -> None:
    started = HistoryEvent(event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    retried = HistoryEvent(event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    retried.activity_task_started_event_attributes.attempt = 3
    upsert = HistoryEvent(event_type=EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    fields = upsert.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    fields["OrderStatus"].CopyFrom(Payload(data=b'"confirmed"'))
    fields["PaymentStatus"].CopyFrom(Payload(data=b'"captured"'))
    versioning = HistoryEvent(event_type=EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    versioning.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[
        "TemporalChangeVersion"
    ].CopyFrom(Payload(data=b'["fix-1"]'))
    markers = []
    for task in (4, 4, 9):  # three local activities, in two workflow tasks
        marker = HistoryEvent(event_type=EventType.EVENT_TYPE_MARKER_RECORDED)
        marker.marker_recorded_event_attributes.workflow_task_completed_event_id = task
        markers.append(marker)
    events = [
        started,
        HistoryEvent(event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        HistoryEvent(event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        HistoryEvent(event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        retried,
        HistoryEvent(event_type=EventType.EVENT_TYPE_TIMER_STARTED),
        HistoryEvent(event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        HistoryEvent(event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
        HistoryEvent(event_type=EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
        upsert,
        versioning,
        *markers,
    ]
    actions = count_actions(events)
    assert dict(actions.by_kind) == {
        "workflow started": 1,
        "activity": 3,
        "timer": 1,
        "signal": 1,
        "update": 1,
        "child workflow": 1,
        "search attributes": 1,
        "local activities": 2,
    }
    assert actions.total == 11
    assert (actions + actions).total == 22


def test_the_happy_path_costs_at_most_fifteen_actions() -> None:
    """Recorded by ``make record-histories`` from the default policy: the carrier's webhook says delivered, the
    return window passes. Statuses are indexed when the order comes to rest, not at every step."""
    actions = count_actions(_recorded("order-happy"))
    assert actions.total <= HAPPY_PATH_BUDGET, dict(actions.by_kind)
    # Eight calls to upstreams (authorize, reserve, label, capture, commit, three messages), one start, and a
    # rest following the parcel and in the return window: an upsert and a timer each; the delivery signal.
    assert dict(actions.by_kind) == {
        "workflow started": 1,
        "activity": 8,
        "search attributes": 2,
        "timer": 2,
        "signal": 1,
    }


def test_a_declined_order_indexes_its_outcome_once() -> None:
    actions = count_actions(_recorded("order-payment-declined"))
    assert actions.by_kind["search attributes"] == 1
    assert history_bytes(_recorded("order-payment-declined")) > 0
