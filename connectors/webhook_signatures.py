"""The three webhook signature schemes the hub receives (and, for its own events, sends).

- **Standard Webhooks** (ERP pushes, the hub's outbound events): headers ``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64>``; HMAC-SHA256 of ``{id}.{timestamp}.{body}`` keyed by the base64 part of
  the ``whsec_…`` secret. Signed and verified with the ``standardwebhooks`` library.
- **Stripe**: ``Stripe-Signature: t=<unix>,v1=<hex>``; HMAC-SHA256 hex of ``{t}.{body}`` keyed by the
  ``whsec_…`` string itself.
- **EasyPost**: ``X-Hmac-Signature: hmac-sha256-hex=<hex>``; HMAC-SHA256 hex of the body keyed by the secret.

Stripe's and EasyPost's are ours: their libraries are whole API clients, and ``tests/unit/test_webhook_schemes.py``
checks both against them.

Verification is over the exact raw bytes, compares in constant time, and refuses a timestamp more than
``TOLERANCE`` away from now in either direction. EasyPost signs no timestamp header, so its freshness comes from
the signed body (the caller checks the event's ``created_at``).
"""

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

TOLERANCE = timedelta(minutes=5)


class SignatureRejected(Exception):
    """The request is not provably from the sender, or is too old or too new. ``str()`` says which, briefly."""


def _hmac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def _header(headers: Mapping[str, str], name: str) -> str:
    # Starlette's headers are case-insensitive; a plain dict from a test may not be.
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise SignatureRejected(f"missing {name} header")


_STALE = "timestamp outside the 5-minute tolerance"


def check_freshness(timestamp: datetime, now: datetime) -> None:
    if abs(now - timestamp) > TOLERANCE:
        raise SignatureRejected(_STALE)


def _parse_unix(value: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureRejected("malformed timestamp") from None


# -- Standard Webhooks ---------------------------------------------------------------------------------------
# Signed and verified by the scheme's own library, so the hub and its receivers read the scheme the same way. Its
# secret decoding is lenient (characters outside base64 are dropped) and its clock is the wall clock: the secret is
# checked strictly here, and freshness is ours, against the caller's ``now`` and with the hub's own answer. The
# library checks the same 5 minutes again (tested against ``TOLERANCE``).


def _standard_webhook(secret: str) -> Webhook:
    try:
        base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        return Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):
        raise ValueError("a Standard Webhooks secret is whsec_ followed by base64") from None


def sign_standard(secret: str, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The three headers of a Standard Webhooks delivery. ``body`` is UTF-8 (JSON)."""
    # The library reads the timestamp's fields as UTC: convert, or an aware non-UTC time would sign another instant.
    at = timestamp.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": _standard_webhook(secret).sign(message_id, at, body.decode()),
    }


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """Verify a Standard Webhooks delivery; return its ``webhook-id`` (the event id)."""
    message_id = _header(headers, "webhook-id")
    seconds = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    check_freshness(_parse_unix(seconds), now)
    webhook = _standard_webhook(secret)
    delivery = {"webhook-id": message_id, "webhook-timestamp": seconds, "webhook-signature": signatures}
    try:
        # Any one of several space-separated signatures may match (during a secret's rotation).
        webhook.verify(body, delivery, json_parse=False)
    except WebhookVerificationError as refused:
        if str(refused).startswith("Message timestamp"):  # its own clock, at the edge of the same 5 minutes
            raise SignatureRejected(_STALE) from None
        raise SignatureRejected("no valid signature") from None
    except ValueError:  # a garbled signature, a body that is not UTF-8
        raise SignatureRejected("no valid signature") from None
    return message_id


# -- Stripe ----------------------------------------------------------------------------------------------------


def sign_stripe(secret: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    seconds = str(int(timestamp.timestamp()))
    signature = _hmac(secret.encode(), f"{seconds}.".encode() + body).hex()
    return {"Stripe-Signature": f"t={seconds},v1={signature}"}


def verify_stripe(secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    parts: dict[str, list[str]] = {}
    for item in _header(headers, "Stripe-Signature").split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    if not parts.get("t") or not parts.get("v1"):
        raise SignatureRejected("malformed Stripe-Signature")
    seconds = parts["t"][0]
    check_freshness(_parse_unix(seconds), now)
    expected = _hmac(secret.encode(), f"{seconds}.".encode() + body).hex()
    if not any(hmac.compare_digest(candidate, expected) for candidate in parts["v1"]):
        raise SignatureRejected("no valid signature")


# -- EasyPost --------------------------------------------------------------------------------------------------

_EASYPOST_PREFIX = "hmac-sha256-hex="


def _easypost_key(secret: str) -> bytes:
    # EasyPost normalises the secret (NFKD) before using it as the HMAC key.
    return unicodedata.normalize("NFKD", secret).encode()


def sign_easypost(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Hmac-Signature": _EASYPOST_PREFIX + _hmac(_easypost_key(secret), body).hex()}


def verify_easypost(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Verify the body's signature. Freshness is the caller's: check the signed event's ``created_at``."""
    header = _header(headers, "X-Hmac-Signature")
    if not header.startswith(_EASYPOST_PREFIX):
        raise SignatureRejected("malformed X-Hmac-Signature")
    expected = _hmac(_easypost_key(secret), body).hex()
    if not hmac.compare_digest(header.removeprefix(_EASYPOST_PREFIX), expected):
        raise SignatureRejected("no valid signature")
