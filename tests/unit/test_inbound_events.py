"""Verified webhook bodies become normalised events, or a rejection with the status to answer the sender."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from api.inbound import InboundRejected, Unhandled, parse_carrier, parse_erp, parse_payment
from domain.events import EventKind, StockEvent, UpstreamEvent

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def _body(payload: object) -> bytes:
    return json.dumps(payload).encode()


class Resolver:
    """Records what it was asked; answers from a fixed table."""

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = table or {}
        self.calls: list[str] = []

    async def __call__(self, vendor_id: str) -> str | None:
        self.calls.append(vendor_id)
        return self.table.get(vendor_id)


def _rejected(excinfo: pytest.ExceptionInfo[InboundRejected]) -> tuple[int, str]:
    return excinfo.value.status, excinfo.value.reason


def _unhandled(excinfo: pytest.ExceptionInfo[Unhandled]) -> tuple[str, str]:
    return excinfo.value.outcome, excinfo.value.reason


# -- ERP -------------------------------------------------------------------------------------------------------


def _erp(kind: str, data: dict[str, Any], timestamp: str = "2026-11-23T11:59:30Z") -> bytes:
    return _body({"type": kind, "timestamp": timestamp, "data": data})


def test_erp_shipment_confirmed_with_all_fields() -> None:
    body = _erp(
        "shipment.confirmed", {"order_id": "A-1", "tracking_code": "1Z999", "shipment_reference": "A-1:shipment:1"}
    )
    assert parse_erp(body, "msg_2Kx") == UpstreamEvent(
        event_id="erp:msg_2Kx",
        source="erp",
        kind=EventKind.SHIPMENT_CONFIRMED,
        order_id="A-1",
        occurred_at=datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC),
        shipment_reference="A-1:shipment:1",
        tracking_code="1Z999",
    )


def test_erp_shipment_confirmed_optional_fields_may_be_absent_or_null() -> None:
    absent = parse_erp(_erp("shipment.confirmed", {"order_id": "A-1"}), "m1")
    null = parse_erp(_erp("shipment.confirmed", {"order_id": "A-1", "tracking_code": None}), "m1")
    for event in (absent, null):
        assert isinstance(event, UpstreamEvent)
        assert (event.order_id, event.tracking_code, event.shipment_reference) == ("A-1", None, None)


def test_erp_timestamp_offset_is_kept_and_a_naive_one_is_utc() -> None:
    offset = parse_erp(_erp("shipment.confirmed", {"order_id": "A-1"}, "2026-11-23T13:00:00+01:00"), "m")
    naive = parse_erp(_erp("shipment.confirmed", {"order_id": "A-1"}, "2026-11-23T12:00:00"), "m")
    assert offset is not None and naive is not None
    assert offset.occurred_at == naive.occurred_at == NOW


@pytest.mark.parametrize(
    ("kind", "expected"), [("stock.changed", EventKind.STOCK_CHANGED), ("stock.restocked", EventKind.STOCK_RESTOCKED)]
)
def test_erp_stock_events(kind: str, expected: EventKind) -> None:
    event = parse_erp(_erp(kind, {"sku": "PEN-01", "available": 14, "restock_date": "2026-12-10"}), "msg_9")
    assert event == StockEvent(
        event_id="erp:msg_9",
        kind=expected,
        sku="PEN-01",
        available=14,
        restock_date=date(2026, 12, 10),
        occurred_at=datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC),
    )


def test_erp_stock_restock_date_is_optional_and_zero_is_available() -> None:
    event = parse_erp(_erp("stock.changed", {"sku": "PEN-01", "available": 0}), "m")
    assert isinstance(event, StockEvent)
    assert (event.available, event.restock_date) == (0, None)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "hold.expired", "timestamp": "2026-11-23T12:00:00Z", "data": {"order_id": "A-1"}},
        {"type": "hold.expired"},  # the unknown type is what is reported, not the fields it lacks
    ],
)
def test_erp_unknown_type_is_ignored_naming_the_type(payload: dict[str, Any]) -> None:
    with pytest.raises(Unhandled) as excinfo:
        parse_erp(_body(payload), "m")
    assert _unhandled(excinfo) == ("ignored", "unknown event type 'hold.expired'")


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_erp_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(InboundRejected) as excinfo:
        parse_erp(body, "m")
    assert excinfo.value.status == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"timestamp": "2026-11-23T12:00:00Z", "data": {"order_id": "A-1"}}, "type"),
        ({"type": "shipment.confirmed", "data": {"order_id": "A-1"}}, "timestamp"),
        ({"type": "shipment.confirmed", "timestamp": "yesterday", "data": {"order_id": "A-1"}}, "timestamp"),
        ({"type": "shipment.confirmed", "timestamp": "2026-11-23T12:00:00Z"}, "data"),
        ({"type": "shipment.confirmed", "timestamp": "2026-11-23T12:00:00Z", "data": []}, "data"),
        ({"type": "shipment.confirmed", "timestamp": "2026-11-23T12:00:00Z", "data": {}}, "data.order_id"),
        ({"type": "shipment.confirmed", "timestamp": "2026-11-23T12:00:00Z", "data": {"order_id": 7}}, "data.order_id"),
        (
            {
                "type": "shipment.confirmed",
                "timestamp": "2026-11-23T12:00:00Z",
                "data": {"order_id": "A-1", "tracking_code": 5},
            },
            "data.tracking_code",
        ),
        (
            {
                "type": "shipment.confirmed",
                "timestamp": "2026-11-23T12:00:00Z",
                "data": {"order_id": "A-1", "shipment_reference": "A-2:shipment:1"},
            },
            "data.shipment_reference",
        ),
        ({"type": "stock.changed", "timestamp": "2026-11-23T12:00:00Z", "data": {"available": 3}}, "data.sku"),
        ({"type": "stock.changed", "timestamp": "2026-11-23T12:00:00Z", "data": {"sku": "P"}}, "data.available"),
        (
            {"type": "stock.changed", "timestamp": "2026-11-23T12:00:00Z", "data": {"sku": "P", "available": "3"}},
            "data.available",
        ),
        (
            {"type": "stock.changed", "timestamp": "2026-11-23T12:00:00Z", "data": {"sku": "P", "available": True}},
            "data.available",
        ),
        (
            {"type": "stock.changed", "timestamp": "2026-11-23T12:00:00Z", "data": {"sku": "P", "available": -1}},
            "data.available",
        ),
        (
            {
                "type": "stock.restocked",
                "timestamp": "2026-11-23T12:00:00Z",
                "data": {"sku": "P", "available": 1, "restock_date": "soon"},
            },
            "data.restock_date",
        ),
    ],
)
def test_erp_missing_or_invalid_fields_are_422_naming_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(InboundRejected) as excinfo:
        parse_erp(_body(payload), "m")
    status, reason = _rejected(excinfo)
    assert status == 422
    assert field in reason


# -- carrier (EasyPost) ----------------------------------------------------------------------------------------


def _tracker_event(
    status: str = "in_transit",
    created_at: datetime = NOW - timedelta(seconds=30),
    description: str = "tracker.updated",
    **tracker: object,
) -> dict[str, Any]:
    return {
        "id": "evt_abc",
        "object": "Event",
        "mode": "test",
        "description": description,
        "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "result": {
            "object": "Tracker",
            "id": "trk_123",
            "tracking_code": "EZ1000000001",
            "status": status,
            "shipment_id": "shp_777",
            "carrier": "USPS",
            **tracker,
        },
    }


SHIPMENTS = {"shp_777": "A-1:shipment:2"}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("in_transit", EventKind.SHIPMENT_IN_TRANSIT),
        ("out_for_delivery", EventKind.SHIPMENT_OUT_FOR_DELIVERY),
        ("available_for_pickup", EventKind.SHIPMENT_OUT_FOR_DELIVERY),
        ("delivered", EventKind.SHIPMENT_DELIVERED),
        ("failure", EventKind.SHIPMENT_EXCEPTION),
        ("error", EventKind.SHIPMENT_EXCEPTION),
        ("return_to_sender", EventKind.SHIPMENT_RETURNED_TO_SENDER),
    ],
)
async def test_carrier_tracker_status_maps_to_event(status: str, kind: EventKind) -> None:
    resolver = Resolver(SHIPMENTS)
    event = await parse_carrier(_body(_tracker_event(status)), NOW, resolver)
    assert event == UpstreamEvent(
        event_id="carrier:evt_abc",
        source="carrier",
        kind=kind,
        order_id="A-1",
        occurred_at=NOW - timedelta(seconds=30),
        shipment_reference="A-1:shipment:2",
        tracking_code="EZ1000000001",
        raw_status=status,
    )
    assert resolver.calls == ["shp_777"]


@pytest.mark.parametrize("status", ["pre_transit", "unknown", "cancelled", "some_new_status"])
async def test_carrier_statuses_the_workflow_ignores_are_none_without_a_lookup(status: str) -> None:
    resolver = Resolver(SHIPMENTS)
    assert await parse_carrier(_body(_tracker_event(status)), NOW, resolver) is None
    assert resolver.calls == []


async def test_carrier_shipment_the_hub_did_not_create_is_not_routed() -> None:
    resolver = Resolver({})
    with pytest.raises(Unhandled) as excinfo:
        await parse_carrier(_body(_tracker_event("delivered")), NOW, resolver)
    assert _unhandled(excinfo) == ("not_routed", "a shipment the hub did not create")
    assert resolver.calls == ["shp_777"]


@pytest.mark.parametrize("description", ["parcel.teleported", "tracker.exploded", "shipment.created"])
async def test_carrier_other_descriptions_are_ignored_naming_them(description: str) -> None:
    resolver = Resolver(SHIPMENTS)
    with pytest.raises(Unhandled) as excinfo:
        await parse_carrier(_body(_tracker_event(description=description)), NOW, resolver)
    outcome, reason = _unhandled(excinfo)
    assert outcome == "ignored"
    assert description in reason
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (timedelta(minutes=5), True),
        (timedelta(minutes=-5), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(minutes=-5, seconds=-1), False),
        (timedelta(hours=3), False),
        (timedelta(days=-1), False),
    ],
)
async def test_carrier_freshness_comes_from_created_at(age: timedelta, accepted: bool) -> None:
    resolver = Resolver(SHIPMENTS)
    body = _body(_tracker_event("delivered", created_at=NOW - age))
    if accepted:
        event = await parse_carrier(body, NOW, resolver)
        assert event is not None
        assert event.occurred_at == NOW - age
    else:
        with pytest.raises(InboundRejected) as excinfo:
            await parse_carrier(body, NOW, resolver)
        assert excinfo.value.status == 400
        assert resolver.calls == []


async def test_carrier_stale_event_is_refused_even_when_its_status_would_be_ignored() -> None:
    with pytest.raises(InboundRejected) as excinfo:
        await parse_carrier(_body(_tracker_event("pre_transit", created_at=NOW - timedelta(hours=1))), NOW, Resolver())
    assert excinfo.value.status == 400


async def test_carrier_created_at_with_offset_is_compared_in_absolute_time() -> None:
    payload = _tracker_event("delivered")
    payload["created_at"] = "2026-11-23T13:01:00+01:00"  # 12:01 UTC, one minute ahead
    event = await parse_carrier(_body(payload), NOW, Resolver(SHIPMENTS))
    assert event is not None
    assert event.occurred_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("body", [b"<xml/>", b"", b"null", b"[]"])
async def test_carrier_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(InboundRejected) as excinfo:
        await parse_carrier(body, NOW, Resolver(SHIPMENTS))
    assert excinfo.value.status == 400


def _without(payload: dict[str, Any], path: str) -> dict[str, Any]:
    parent = payload
    *parents, last = path.split(".")
    for key in parents:
        parent = parent[key]
    del parent[last]
    return payload


@pytest.mark.parametrize(
    "field",
    ["id", "description", "created_at", "result", "result.status", "result.tracking_code", "result.shipment_id"],
)
async def test_carrier_missing_fields_are_422(field: str) -> None:
    resolver = Resolver(SHIPMENTS)
    with pytest.raises(InboundRejected) as excinfo:
        await parse_carrier(_body(_without(_tracker_event("delivered"), field)), NOW, resolver)
    status, reason = _rejected(excinfo)
    assert status == 422
    assert field in reason
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"object": "Shipment"}, "result.object"),
        ({"shipment_id": None}, "result.shipment_id"),
        ({"status": 3}, "result.status"),
    ],
)
async def test_carrier_invalid_tracker_fields_are_422(change: dict[str, object], field: str) -> None:
    payload = _tracker_event("delivered")
    payload["result"].update(change)
    with pytest.raises(InboundRejected) as excinfo:
        await parse_carrier(_body(payload), NOW, Resolver(SHIPMENTS))
    status, reason = _rejected(excinfo)
    assert status == 422
    assert field in reason


async def test_carrier_unparseable_created_at_is_422() -> None:
    payload = _tracker_event("delivered")
    payload["created_at"] = "23/11/2026"
    with pytest.raises(InboundRejected) as excinfo:
        await parse_carrier(_body(payload), NOW, Resolver(SHIPMENTS))
    assert _rejected(excinfo) == (422, "invalid field created_at")


# -- payment (Stripe) ------------------------------------------------------------------------------------------

CREATED = 1_795_435_200  # 2026-11-23T12:00:00Z
INTENTS = {"pi_1": "A-9"}


def _stripe(kind: str, obj: dict[str, Any]) -> bytes:
    return _body(
        {
            "id": "evt_1Q",
            "object": "event",
            "type": kind,
            "created": CREATED,
            "livemode": False,
            "data": {"object": obj},
        }
    )


def _refund(status: str, **fields: object) -> dict[str, Any]:
    return {
        "id": "re_1",
        "object": "refund",
        "amount": 4200,
        "currency": "eur",
        "payment_intent": "pi_1",
        "status": status,
        "metadata": {"order_id": "A-1", "hub_reference": "A-1:payment.refund:1"},
        **fields,
    }


def test_created_constant_is_now() -> None:
    assert datetime.fromtimestamp(CREATED, UTC) == NOW


@pytest.mark.parametrize("kind", ["refund.created", "refund.updated", "refund.failed", "charge.refund.updated"])
async def test_payment_refund_succeeded_takes_the_order_from_metadata(kind: str) -> None:
    resolver = Resolver(INTENTS)
    event = await parse_payment(_stripe(kind, _refund("succeeded")), resolver)
    assert event == UpstreamEvent(
        event_id="payment:evt_1Q",
        source="payment",
        kind=EventKind.REFUND_SUCCEEDED,
        order_id="A-1",
        occurred_at=NOW,
        amount=4200,
        # Issue 14, scenario 26: which payment and which refund, and whether the hub made it, so it counts once.
        payment_id="pi_1",
        refund_id="re_1",
        hub_reference="A-1:payment.refund:1",
    )
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("status", "failure_reason"), [("failed", "expired_or_canceled_card"), ("canceled", None), ("failed", None)]
)
async def test_payment_refund_failed_or_canceled_carries_the_failure_reason(
    status: str, failure_reason: str | None
) -> None:
    event = await parse_payment(
        _stripe("refund.updated", _refund(status, failure_reason=failure_reason)), Resolver(INTENTS)
    )
    assert event is not None
    assert (event.kind, event.reason, event.amount, event.order_id) == (
        EventKind.REFUND_FAILED,
        failure_reason,
        4200,
        "A-1",
    )


@pytest.mark.parametrize("status", ["pending", "requires_action"])
async def test_payment_pending_refund_is_none_without_a_lookup(status: str) -> None:
    resolver = Resolver(INTENTS)
    assert await parse_payment(_stripe("refund.created", _refund(status, metadata={})), resolver) is None
    assert resolver.calls == []


@pytest.mark.parametrize("metadata", [{}, None, {"order_id": ""}, {"other": "x"}])
async def test_payment_refund_without_order_metadata_resolves_the_payment_intent(
    metadata: dict[str, str] | None,
) -> None:
    resolver = Resolver(INTENTS)
    event = await parse_payment(_stripe("refund.updated", _refund("succeeded", metadata=metadata)), resolver)
    assert event is not None
    assert (event.kind, event.order_id) == (EventKind.REFUND_SUCCEEDED, "A-9")
    assert resolver.calls == ["pi_1"]


async def test_payment_refund_of_a_payment_the_hub_did_not_create_is_not_routed() -> None:
    resolver = Resolver({})
    with pytest.raises(Unhandled) as excinfo:
        await parse_payment(_stripe("refund.updated", _refund("succeeded", metadata={})), resolver)
    assert _unhandled(excinfo) == ("not_routed", "a payment the hub did not create")
    assert resolver.calls == ["pi_1"]


async def test_payment_refund_without_metadata_or_payment_intent_is_422() -> None:
    with pytest.raises(InboundRejected) as excinfo:
        await parse_payment(
            _stripe("refund.updated", _refund("succeeded", metadata={}, payment_intent=None)), Resolver(INTENTS)
        )
    assert _rejected(excinfo) == (422, "missing field data.object.payment_intent")


async def test_payment_refund_with_unknown_status_is_422() -> None:
    with pytest.raises(InboundRejected) as excinfo:
        await parse_payment(_stripe("refund.updated", _refund("vanished")), Resolver(INTENTS))
    assert _rejected(excinfo) == (422, "invalid field data.object.status")


def _dispute(**fields: object) -> dict[str, Any]:
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": 12900,
        "currency": "eur",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "reason": "fraudulent",
        "status": "needs_response",
        "metadata": {"order_id": "IGNORED"},
        **fields,
    }


async def test_payment_dispute_opened_resolves_the_payment_intent() -> None:
    resolver = Resolver(INTENTS)
    event = await parse_payment(_stripe("charge.dispute.created", _dispute()), resolver)
    assert event == UpstreamEvent(
        event_id="payment:evt_1Q",
        source="payment",
        kind=EventKind.DISPUTE_OPENED,
        order_id="A-9",
        occurred_at=NOW,
        amount=12900,
        reason="fraudulent",
        payment_id="pi_1",
    )
    assert resolver.calls == ["pi_1"]


async def test_payment_dispute_on_a_payment_the_hub_did_not_create_is_not_routed() -> None:
    with pytest.raises(Unhandled) as excinfo:
        await parse_payment(_stripe("charge.dispute.created", _dispute(payment_intent="pi_other")), Resolver(INTENTS))
    assert _unhandled(excinfo) == ("not_routed", "a payment the hub did not create")


@pytest.mark.parametrize("field", ["payment_intent", "amount", "reason"])
async def test_payment_dispute_missing_fields_are_422(field: str) -> None:
    resolver = Resolver(INTENTS)
    obj = _dispute()
    del obj[field]
    with pytest.raises(InboundRejected) as excinfo:
        await parse_payment(_stripe("charge.dispute.created", obj), resolver)
    assert _rejected(excinfo) == (422, f"missing field data.object.{field}")
    assert resolver.calls == []


@pytest.mark.parametrize(
    "kind",
    [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.dispute.closed",
    ],
)
async def test_payment_known_irrelevant_types_are_none(kind: str) -> None:
    resolver = Resolver(INTENTS)
    assert await parse_payment(_stripe(kind, {"id": "pi_1", "object": "payment_intent"}), resolver) is None
    assert resolver.calls == []


@pytest.mark.parametrize("kind", ["customer.created", "invoice.paid", "refund.exploded"])
async def test_payment_unknown_type_is_ignored_naming_it(kind: str) -> None:
    with pytest.raises(Unhandled) as excinfo:
        await parse_payment(_stripe(kind, _refund("succeeded")), Resolver(INTENTS))
    outcome, reason = _unhandled(excinfo)
    assert outcome == "ignored"
    assert kind in reason


@pytest.mark.parametrize("body", [b"{", b"garbage", b"42", b"\x80"])
async def test_payment_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(InboundRejected) as excinfo:
        await parse_payment(body, Resolver(INTENTS))
    assert excinfo.value.status == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"type": None}, "type"),
        ({"created": None}, "created"),
        ({"created": "1795435200"}, "created"),
        ({"data": None}, "data"),
        ({"data": {}}, "data.object"),
        ({"data": {"object": "re_1"}}, "data.object"),
    ],
)
async def test_payment_missing_or_invalid_envelope_fields_are_422(change: dict[str, object], field: str) -> None:
    payload = json.loads(_stripe("refund.updated", _refund("succeeded")))
    payload.update(change)
    with pytest.raises(InboundRejected) as excinfo:
        await parse_payment(_body(payload), Resolver(INTENTS))
    status, reason = _rejected(excinfo)
    assert status == 422
    assert reason.endswith(f" {field}")


@pytest.mark.parametrize(("field", "value"), [("status", None), ("amount", None), ("amount", "42.00")])
async def test_payment_refund_missing_or_invalid_fields_are_422(field: str, value: object) -> None:
    refund = _refund("succeeded")
    refund[field] = value
    with pytest.raises(InboundRejected) as excinfo:
        await parse_payment(_stripe("refund.updated", refund), Resolver(INTENTS))
    assert excinfo.value.status == 422
    assert f"data.object.{field}" in excinfo.value.reason


def test_rejection_carries_status_and_reason() -> None:
    rejection = InboundRejected(422, "missing field data.sku")
    assert (rejection.status, rejection.reason, str(rejection)) == (
        422,
        "missing field data.sku",
        "422 missing field data.sku",
    )


async def test_easypost_tracker_created_counts_and_account_events_are_acknowledged_not_refused() -> None:
    async def resolver(shipment_id: str) -> str | None:
        return "A-1:shipment:1"

    def event(description: str, status: str = "in_transit") -> bytes:
        return json.dumps(
            {
                "id": "evt_1",
                "object": "Event",
                "description": description,
                "created_at": "2026-11-20T09:00:00Z",
                "result": {
                    "object": "Tracker",
                    "id": "trk_1",
                    "tracking_code": "T",
                    "status": status,
                    "shipment_id": "shp_1",
                },
            }
        ).encode()

    now = datetime(2026, 11, 20, 9, 1, tzinfo=UTC)
    created = await parse_carrier(event("tracker.created"), now, resolver)
    assert created is not None and created.kind is EventKind.SHIPMENT_IN_TRANSIT
    assert await parse_carrier(event("batch.updated"), now, resolver) is None
    with pytest.raises(Unhandled) as unknown:
        await parse_carrier(event("parcel.teleported"), now, resolver)
    assert unknown.value.outcome == "ignored"
