"""An RMA that continued as new before ``ReturnState`` existed carried a ``CarriedOver`` payload: its next run
must read it whole, or a waiting RMA would forget its label, its payments or that it was reminded."""

from datetime import UTC, datetime

from domain.returns import ReturnStatus
from workflows.returns.state import ReturnState

# What ``ReturnWorkflow._carry_over().model_dump(mode="json")`` wrote before (a label issued, reminded once).
CARRIED_BEFORE = {
    "status": "label_issued",
    "timeline": [{"at": "2026-12-01T09:00:00Z", "step": "return_status", "outcome": "info", "detail": "label_issued"}],
    "messages_sent": ["A-1.return-label.R-7.1"],
    "messages": [
        {
            "notification_id": "A-1.return-label.R-7.1",
            "kind": "return-label",
            "channel": "email",
            "subject": "Your return label",
            "at": "2026-12-01T09:00:00Z",
        }
    ],
    "payments": [
        {
            "payment_id": "pi_1",
            "order_id": "A-1",
            "reference": "A-1:payment.authorize:1",
            "state": "captured",
            "currency": "EUR",
            "authorized": 4200,
            "captured": 4200,
            "refunded": 0,
        }
    ],
    "refunded": 0,
    "returned": [],
    "return_shipment": None,
    "replacement_shipment": None,
    "replacement_shipped": False,
    "started": True,
    "no_return": None,
    "waiting_since": "2026-12-01T09:00:00Z",
    "reminded": True,
    "seen_events": ["carrier:evt_1"],
    "latest_scan_at": {"A-1:rma.R-7.return-label:1": "2026-12-01T09:00:00Z"},
    "runs": 1,
}


def test_a_payload_carried_over_by_the_runs_before_validates_whole() -> None:
    state = ReturnState.model_validate(CARRIED_BEFORE)
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert state.status is ReturnStatus.LABEL_ISSUED and state.started and state.reminded and state.runs == 1
    assert state.messages_sent == ["A-1.return-label.R-7.1"] and state.timeline[0].step == "return_status"
    assert [(p.payment_id, p.refundable) for p in state.payments] == [("pi_1", 4200)]
    assert state.waiting_since == at and state.latest_scan_at == {"A-1:rma.R-7.return-label:1": at}
    assert state.seen_events == ["carrier:evt_1"]
    # Fields that came later start empty: nothing was left to undo, no decision was pending at a safe point.
    assert state.to_undo == [] and state.undone == [] and not state.pending


def test_the_state_carried_over_now_is_read_back_the_same() -> None:
    state = ReturnState.model_validate(CARRIED_BEFORE).model_copy(update={"to_undo": ["return_label"]})
    assert ReturnState.model_validate(state.model_dump(mode="json")) == state
