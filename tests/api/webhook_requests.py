"""Signed webhook requests as each upstream sends them, for the API tests."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from connectors.webhook_signatures import sign_easypost, sign_standard, sign_stripe


def carrier_delivery(
    secret: str,
    shipment_id: str,
    status: str = "delivered",
    *,
    age: timedelta = timedelta(0),
    kind: str = "tracker.updated",
) -> tuple[bytes, dict[str, str]]:
    """An EasyPost tracker event; freshness comes from the signed ``created_at``."""
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "Event",
        "description": kind,
        "mode": "test",
        "created_at": (datetime.now(UTC) - age).isoformat(),
        "result": {
            "object": "Tracker",
            "id": f"trk_{uuid.uuid4().hex}",
            "tracking_code": "9400TEST",
            "status": status,
            "shipment_id": shipment_id,
        },
    }
    body = json.dumps(event).encode()
    return body, {"Content-Type": "application/json", **sign_easypost(secret, body)}


def erp_shipment_confirmed(
    secret: str, order_id: str, *, age: timedelta = timedelta(0)
) -> tuple[bytes, dict[str, str]]:
    at = datetime.now(UTC) - age
    body = json.dumps(
        {"type": "shipment.confirmed", "timestamp": at.isoformat(), "data": {"order_id": order_id}}
    ).encode()
    return body, {"Content-Type": "application/json", **sign_standard(secret, f"msg_{uuid.uuid4().hex}", at, body)}


def payment_dispute(secret: str, payment_intent: str, *, age: timedelta = timedelta(0)) -> tuple[bytes, dict[str, str]]:
    at = datetime.now(UTC) - age
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "charge.dispute.created",
        "created": int(at.timestamp()),
        "livemode": False,
        "data": {
            "object": {
                "id": "du_1",
                "object": "dispute",
                "payment_intent": payment_intent,
                "amount": 100,
                "reason": "fraudulent",
                "status": "needs_response",
            }
        },
    }
    body = json.dumps(event).encode()
    return body, {"Content-Type": "application/json", **sign_stripe(secret, at, body)}
