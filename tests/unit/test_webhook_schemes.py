"""Each webhook scheme, checked against the vendor's own library rather than against the hub's reading of it.

The sandbox signs with code of its own (``sandbox/signatures.py``) and the hub verifies with
``connectors/webhook_signatures.py``; if both misread a scheme the same way, every other test would still pass.
Here the sandbox's signatures must verify with the vendor's library, and the hub must accept what the library
signs (Standard Webhooks signs; for Stripe and EasyPost, whose libraries only verify, the header is built as the
vendor documents it and the library confirms it first). The hub's own signing (``hub webhook send``, the status
events) must verify with the vendor's library too.
"""

import base64
import hashlib
import hmac
import json
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import easypost
import pytest
import standardwebhooks
import stripe

from connectors.webhook_signatures import (
    TOLERANCE,
    SignatureRejected,
    sign_easypost,
    sign_standard,
    sign_stripe,
    verify_easypost,
    verify_standard,
    verify_stripe,
)
from sandbox.signatures import easypost_headers, standard_webhooks_headers, stripe_headers

STRIPE_EVENT = json.dumps(
    {"id": "evt_1", "object": "event", "type": "refund.updated", "data": {"object": {"id": "re_1"}}}
).encode()
EASYPOST_EVENT = json.dumps({"id": "evt_2", "object": "Event", "description": "tracker.updated"}).encode()
ERP_EVENT = json.dumps({"type": "stock.changed", "sku": "PEN-01", "available": 4}).encode()

# EasyPost normalises the secret (NFKD) before keying the HMAC: a secret in full-width letters shows whether a side
# does too.
EASYPOST_SECRETS = [
    pytest.param(secrets.token_hex(16), id="ascii"),
    pytest.param("\uff53\uff45\uff43\uff52\uff45\uff54-" + secrets.token_hex(4), id="full-width"),
]


def _now() -> datetime:
    return datetime.now(UTC)


def _standard_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# -- Stripe ----------------------------------------------------------------------------------------------------


def _stripe_documented_header(secret: str, body: bytes, at: datetime) -> str:
    """``Stripe-Signature`` as https://docs.stripe.com/webhooks#verify-manually describes it."""
    timestamp = int(at.timestamp())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def test_the_sandbox_signs_stripe_events_as_stripe_verifies_them() -> None:
    secret = "whsec_" + secrets.token_hex(16)
    header = stripe_headers(secret, STRIPE_EVENT, _now())["Stripe-Signature"]
    event = stripe.Webhook.construct_event(STRIPE_EVENT, header, secret)
    assert event.id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(STRIPE_EVENT, header, "whsec_" + secrets.token_hex(16))


def test_the_hub_accepts_a_stripe_signature_built_as_stripe_documents_it() -> None:
    secret, now = "whsec_" + secrets.token_hex(16), _now()
    header = _stripe_documented_header(secret, STRIPE_EVENT, now)
    assert stripe.Webhook.construct_event(STRIPE_EVENT, header, secret).id == "evt_1"
    verify_stripe(secret, {"Stripe-Signature": header}, STRIPE_EVENT, now)
    with pytest.raises(SignatureRejected):
        verify_stripe(secret, {"Stripe-Signature": header}, STRIPE_EVENT.replace(b"re_1", b"re_2"), now)


def test_the_hub_signs_stripe_events_as_stripe_verifies_them() -> None:
    secret = "whsec_" + secrets.token_hex(16)
    header = sign_stripe(secret, _now(), STRIPE_EVENT)["Stripe-Signature"]
    assert stripe.Webhook.construct_event(STRIPE_EVENT, header, secret).id == "evt_1"


# -- EasyPost --------------------------------------------------------------------------------------------------


def _easypost_documented_header(secret: str, body: bytes) -> str:
    """``X-Hmac-Signature`` as EasyPost documents it: the body's HMAC-SHA256 keyed by the NFKD-normalised secret."""
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("secret", EASYPOST_SECRETS)
def test_the_sandbox_signs_easypost_events_as_easypost_verifies_them(secret: str) -> None:
    headers = easypost_headers(secret, EASYPOST_EVENT)
    assert easypost.util.validate_webhook(EASYPOST_EVENT, headers, secret)["id"] == "evt_2"
    with pytest.raises(easypost.errors.SignatureVerificationError):
        easypost.util.validate_webhook(EASYPOST_EVENT, headers, secrets.token_hex(16))


@pytest.mark.parametrize("secret", EASYPOST_SECRETS)
def test_the_hub_accepts_an_easypost_signature_built_as_easypost_documents_it(secret: str) -> None:
    headers = {"X-Hmac-Signature": _easypost_documented_header(secret, EASYPOST_EVENT)}
    assert easypost.util.validate_webhook(EASYPOST_EVENT, headers, secret)["id"] == "evt_2"
    verify_easypost(secret, headers, EASYPOST_EVENT)
    with pytest.raises(SignatureRejected):
        verify_easypost(secret, headers, EASYPOST_EVENT.replace(b"evt_2", b"evt_3"))


@pytest.mark.parametrize("secret", EASYPOST_SECRETS)
def test_the_hub_signs_easypost_events_as_easypost_verifies_them(secret: str) -> None:
    headers = sign_easypost(secret, EASYPOST_EVENT)
    assert easypost.util.validate_webhook(EASYPOST_EVENT, headers, secret)["id"] == "evt_2"


# -- Standard Webhooks (the ERP) -------------------------------------------------------------------------------


def test_the_sandbox_signs_erp_events_as_standard_webhooks_verifies_them() -> None:
    secret = _standard_secret()
    headers = standard_webhooks_headers(secret, "evt_3", ERP_EVENT, _now())
    assert standardwebhooks.Webhook(secret).verify(ERP_EVENT, headers) == json.loads(ERP_EVENT)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(_standard_secret()).verify(ERP_EVENT, headers)


def test_the_hub_accepts_what_the_standard_webhooks_library_signs() -> None:
    secret, now = _standard_secret(), _now()
    signature = standardwebhooks.Webhook(secret).sign("evt_4", now, ERP_EVENT.decode())
    headers = {"webhook-id": "evt_4", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert verify_standard(secret, headers, ERP_EVENT, now) == "evt_4"
    with pytest.raises(SignatureRejected):
        verify_standard(secret, {**headers, "webhook-id": "evt_5"}, ERP_EVENT, now)


def test_the_hub_signs_standard_webhooks_as_the_library_verifies_them() -> None:
    secret = _standard_secret()
    headers = sign_standard(secret, "evt_6", _now(), ERP_EVENT)
    assert standardwebhooks.Webhook(secret).verify(ERP_EVENT, headers) == json.loads(ERP_EVENT)


# The hub signs and verifies Standard Webhooks with the library: what follows pins what it adds around it.


def test_the_library_refuses_timestamps_beyond_the_hubs_tolerance_too() -> None:
    secret, now = _standard_secret(), _now()
    margin = timedelta(seconds=30)  # the library reads the wall clock itself, a moment after this test did
    for offset, accepted in [(TOLERANCE - margin, True), (TOLERANCE + margin, False)]:
        for at in (now - offset, now + offset):
            headers = sign_standard(secret, "evt_7", at, ERP_EVENT)
            if accepted:
                assert standardwebhooks.Webhook(secret).verify(ERP_EVENT, headers) == json.loads(ERP_EVENT)
            else:
                with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError, match=r"too (old|new)"):
                    standardwebhooks.Webhook(secret).verify(ERP_EVENT, headers)


def test_the_hub_refuses_a_stale_standard_webhook_with_its_own_reason() -> None:
    secret, now = _standard_secret(), _now()
    headers = sign_standard(secret, "evt_8", now - TOLERANCE - timedelta(seconds=1), ERP_EVENT)
    with pytest.raises(SignatureRejected, match="timestamp outside the 5-minute tolerance"):
        verify_standard(secret, headers, ERP_EVENT, now)
    # Should the library's clock find it stale where the caller's did not, the reason is the same.
    with pytest.raises(SignatureRejected, match="timestamp outside the 5-minute tolerance"):
        verify_standard(secret, headers, ERP_EVENT, now - timedelta(seconds=2))


def test_a_timestamp_in_another_zone_signs_the_same_instant() -> None:
    secret, now = _standard_secret(), _now()
    paris = now.astimezone(timezone(timedelta(hours=2)))
    headers = sign_standard(secret, "evt_9", paris, ERP_EVENT)
    assert headers == sign_standard(secret, "evt_9", now, ERP_EVENT)
    assert standardwebhooks.Webhook(secret).verify(ERP_EVENT, headers) == json.loads(ERP_EVENT)


@pytest.mark.parametrize(
    ("signature", "body"),
    [("v1", ERP_EVENT), ("v1,not base64!", ERP_EVENT), ("v2,AAAA", ERP_EVENT), (None, b"\xff" + ERP_EVENT)],
)
def test_a_garbled_standard_webhook_is_refused_as_unsigned(signature: str | None, body: bytes) -> None:
    secret, now = _standard_secret(), _now()
    headers = sign_standard(secret, "evt_10", now, ERP_EVENT)
    if signature is not None:
        headers["webhook-signature"] = signature
    with pytest.raises(SignatureRejected, match="no valid signature"):
        verify_standard(secret, headers, body, now)


def test_a_standard_webhooks_secret_must_be_base64() -> None:
    # The library would drop the characters outside base64 and sign with what is left.
    with pytest.raises(ValueError, match="whsec_ followed by base64"):
        sign_standard("whsec_not base64!", "evt_11", _now(), ERP_EVENT)
    with pytest.raises(ValueError, match="whsec_ followed by base64"):
        verify_standard("whsec_", sign_standard(_standard_secret(), "evt_12", _now(), ERP_EVENT), ERP_EVENT, _now())
