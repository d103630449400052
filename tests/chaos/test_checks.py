"""The chaos run's verdicts, offline: each invariant catches the broken record it is about, and a clean story
passes. Without these a checker that always answers "no violations" would make ``make chaos`` pass."""

import time
from collections import Counter
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from domain.order_view import FailureReason, OrderView, initial_view
from domain.returns import ReturnStatus, ReturnView
from domain.shipments import ShipmentView
from domain.status import FulfillmentStatus, OrderStatus, PaymentStatus
from hub.verify.chaos.checks import Records, check, tally
from hub.verify.chaos.workload import MIX, Kind, Stalled, Story, fault_rules, make_order, patiently, plan
from sandbox.faults import FaultSettings

TOTAL = 12900 + 2 * 450


def ledger(*effects: tuple[str, str], **totals: dict[str, int]) -> dict[str, Any]:
    book: dict[str, Any] = {
        "payment": {"authorized": TOTAL, "captured": TOTAL, "refunded": 0, "voided": 0, "currency": "EUR"},
        "inventory": {"reserved": 3, "released": 0, "committed": 3},
        "labels": {"bought": 1, "voided": 0},
        "return_labels": {"bought": 0, "voided": 0},
        "returns": {"received": 0},
        "effects": [{"effect": effect, "idempotency_key": key} for effect, key in effects],
    }
    for group, values in totals.items():
        book[group] = {**book[group], **values}
    return book


def mail(order_id: str, *kinds: str, conflicting: bool = False) -> list[dict[str, Any]]:
    return [
        {"message_id": f"<{order_id}.{kind}.1@hub.example>", "order_id": order_id, "conflicting": conflicting}
        for kind in kinds
    ]


def completed_story(kind: Kind = Kind.HAPPY, *kinds: str) -> Story:
    order = make_order(f"X1-{kind.value}-0", kind)
    shipment = ShipmentView(
        shipment_no=1,
        reference=f"{order.order_id}:shipment:1",
        status=FulfillmentStatus.DELIVERED,
        lines=order.lines,
        value=order.total,
        captured=True,
    )
    sent = kinds or ("order-confirmed", "order-shipped", "order-delivered")
    view = initial_view(order).model_copy(
        update={
            "status": OrderStatus.COMPLETED,
            "payment_status": PaymentStatus.CAPTURED,
            "fulfillment_status": FulfillmentStatus.DELIVERED,
            "shipments": [shipment],
            "captured": TOTAL,
            "messages_sent": [f"{order.order_id}.{k}.1" for k in sent],
            "finished": True,
        }
    )
    return Story(kind, order, view)


def canceled_story(kind: Kind, reason: FailureReason, *kinds: str) -> Story:
    order = make_order(f"X1-{kind.value}-0", kind)
    view = initial_view(order).model_copy(
        update={
            "status": OrderStatus.CANCELED,
            "failure_reason": reason,
            "messages_sent": [f"{order.order_id}.{k}.1" for k in kinds],
            "finished": True,
        }
    )
    return Story(kind, order, view)


def happy_records(story: Story) -> Records:
    assert story.view is not None
    return Records(ledger(), mail(story.order.order_id, "order-confirmed", "order-shipped", "order-delivered"))


def test_a_clean_completed_order_passes() -> None:
    story = completed_story()
    assert check(story, happy_records(story)) == []


def test_a_clean_cancelled_order_passes() -> None:
    story = canceled_story(Kind.DECLINED, FailureReason.PAYMENT_DECLINED, "order-canceled")
    records = Records(
        ledger(
            payment={"authorized": 0, "captured": 0}, inventory={"reserved": 0, "committed": 0}, labels={"bought": 0}
        ),
        mail(story.order.order_id, "order-canceled"),
    )
    assert check(story, records) == []


def test_money_kept_beyond_what_the_customer_keeps_is_a_violation() -> None:
    story = completed_story()
    records = happy_records(story)
    records.ledger["payment"]["captured"] += 100
    records.ledger["payment"]["authorized"] += 100
    problems = check(story, records)
    assert any("captured net" in p for p in problems)
    assert any("customer keeps goods worth 13800" in p for p in problems)


def test_an_open_authorization_stock_left_reserved_and_a_second_label_are_violations() -> None:
    story = completed_story()
    records = happy_records(story)
    records.ledger["payment"]["authorized"] += 500
    records.ledger["inventory"]["reserved"] += 1
    records.ledger["labels"]["bought"] += 1
    problems = " | ".join(check(story, records))
    assert "authorization left open: 500" in problems
    assert "stock left reserved" in problems
    assert "labels bought/voided 2/0" in problems


def test_a_label_left_unvoided_on_a_cancelled_order_is_a_violation() -> None:
    story = canceled_story(Kind.LABEL_REJECTED, FailureReason.LABEL_REJECTED, "order-confirmed", "order-canceled")
    records = Records(
        ledger(
            payment={"captured": 0, "voided": TOTAL}, inventory={"released": 3, "committed": 0}, labels={"bought": 1}
        ),
        mail(story.order.order_id, "order-confirmed", "order-canceled"),
    )
    assert any("labels bought/voided 1/0" in p for p in check(story, records))


def test_a_side_effect_applied_twice_under_one_key_is_a_violation() -> None:
    story = completed_story()
    records = happy_records(story)
    records.ledger["effects"] = [{"effect": "capture", "idempotency_key": "X1:payment.capture:1"}] * 2
    assert any("capture applied 2 times" in p for p in check(story, records))


@pytest.mark.parametrize(
    ("received", "conflicting", "expected"),
    [
        (("order-confirmed", "order-shipped"), False, "mail received"),
        (("order-confirmed", "order-shipped", "order-delivered", "order-delivered"), False, "mail received"),
        (("order-confirmed", "order-shipped", "order-delivered"), True, "two different messages"),
    ],
)
def test_a_message_lost_duplicated_or_conflicting_is_a_violation(
    received: tuple[str, ...], conflicting: bool, expected: str
) -> None:
    story = completed_story()
    records = Records(ledger(), mail(story.order.order_id, *received, conflicting=conflicting))
    assert any(expected in p for p in check(story, records))


def test_a_cancelled_order_told_it_shipped_is_a_violation() -> None:
    sent = ("order-confirmed", "order-shipped", "order-canceled")
    story = canceled_story(Kind.CAPTURE_FAILED, FailureReason.CAPTURE_FAILED, *sent)
    records = Records(
        ledger(
            payment={"captured": 0, "voided": TOTAL}, inventory={"released": 3, "committed": 0}, labels={"voided": 1}
        ),
        mail(story.order.order_id, *sent),
    )
    problems = " | ".join(check(story, records))
    assert "cancelled, yet told ['order-shipped']" in problems
    assert "got messages" in problems


def test_an_ending_the_kind_cannot_reach_is_a_violation() -> None:
    story = completed_story(Kind.DECLINED)  # a declined card that completed
    assert any("a declined order ended completed" in p for p in check(story, happy_records(story)))


def test_an_order_still_running_at_the_deadline_is_a_violation() -> None:
    story = completed_story()
    assert story.view is not None
    story.view = story.view.model_copy(update={"status": OrderStatus.CONFIRMED, "finished": False})
    problems = " | ".join(check(story, happy_records(story)))
    assert "workflow still open (confirmed)" in problems
    assert "not in a terminal state" in problems


def returned_story(refunded: int, *, status: ReturnStatus = ReturnStatus.REFUNDED) -> tuple[Story, Records]:
    sent = ("order-confirmed", "order-shipped", "order-delivered")
    story = completed_story(Kind.RETURN_PART, *sent)
    assert story.view is not None
    order_id = story.order.order_id
    rma = ReturnView.model_validate(
        {
            "rma_id": f"R{order_id}",
            "order_id": order_id,
            "kind": "return",
            "channel": "web",
            "status": status,
            "lines": [{"sku": "PEN-01", "quantity": 1, "unit_price": 12900}],
            "returned": [{"sku": "PEN-01", "quantity": 1, "disposition": "restock"}],
            "refunded": refunded,
            "currency": "EUR",
            "return_shipment": {
                "shipment_no": 1,
                "reference": f"{order_id}:rma.R{order_id}.return-label:1",
                "status": "delivered",
            },
            "messages_sent": [f"{order_id}.return-label.R{order_id}.1", f"{order_id}.return-refunded.R{order_id}.1"],
            "finished": status.is_terminal,
        }
    )
    story.view = story.view.model_copy(update={"refunded": refunded})
    story.returns = [rma]
    story.returned = {"PEN-01": 1}
    records = Records(
        ledger(
            payment={"refunded": 12900},
            inventory={},
            return_labels={"bought": 1},
            returns={"received": 1},
        ),
        mail(order_id, *sent)
        + [{"message_id": f"<{m}@hub.example>", "order_id": order_id, "conflicting": False} for m in rma.messages_sent],
    )
    return story, records


def test_a_clean_return_passes() -> None:
    story, records = returned_story(12900)
    assert check(story, records) == []


def test_a_refund_the_rma_counts_but_the_provider_did_not_pay_the_same_is_a_violation() -> None:
    story, records = returned_story(12900)
    records.ledger["payment"]["refunded"] = 2 * 12900
    problems = " | ".join(check(story, records))
    assert "view says refunded 12900, the payment provider refunded 25800" in problems
    assert "customer keeps goods worth 900" in problems


def test_an_rma_left_open_is_a_violation() -> None:
    story, records = returned_story(12900, status=ReturnStatus.LABEL_ISSUED)
    assert any("not in a terminal state: label_issued" in p for p in check(story, records))


def test_the_mix_has_every_kind_and_unique_ids() -> None:
    planned = plan("X1", 200)
    assert len({order.order_id for _, order in planned}) == 200
    counts = Counter(kind for kind, _ in planned)
    assert counts == {kind: weight * 10 for kind, weight in MIX.items()}
    assert all(order.order_id.startswith(f"X1-{kind.value}-") for kind, order in planned)


def test_the_fault_rules_are_valid_sandbox_rules_scoped_to_the_run() -> None:
    rules = fault_rules("X1", error_rate=0.3, timeout_rate=0.05, faults_per_request=2)
    settings = FaultSettings.model_validate({"rules": rules})
    assert all(rule.order_prefix.startswith("X1") for rule in settings.rules)
    assert settings.rules[0].faults_per_request == 2


def test_tally_counts_endings() -> None:
    stories = [completed_story(), canceled_story(Kind.DECLINED, FailureReason.PAYMENT_DECLINED, "order-canceled")]
    counts = tally(stories)
    assert counts["completed"] == 1 and counts["canceled:payment_declined"] == 1


async def test_patiently_retries_while_the_server_is_away_and_not_a_verdict() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RPCError("connect error", RPCStatusCode.UNAVAILABLE, b"")
        return "ok"

    assert await patiently(flaky, time.monotonic() + 10) == "ok"

    async def missing() -> str:
        raise RPCError("no such workflow", RPCStatusCode.NOT_FOUND, b"")

    with pytest.raises(RPCError):
        await patiently(missing, time.monotonic() + 10)

    async def down() -> str:
        raise RPCError("connect error", RPCStatusCode.UNAVAILABLE, b"")

    with pytest.raises(Stalled):
        await patiently(down, time.monotonic() + 0.5)


def test_an_order_view_round_trips() -> None:  # the stories carry views read back from Temporal
    story = completed_story()
    assert story.view is not None
    assert OrderView.model_validate_json(story.view.model_dump_json()) == story.view
