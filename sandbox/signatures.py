"""How each vendor the sandbox stands in for signs its webhooks, written from the vendors' documentation.

The hub verifies these in ``connectors/webhook_signatures.py``; this is deliberately separate code, so that a
scheme misread the same way on both sides cannot pass every test. ``tests/unit/test_webhook_schemes.py`` checks
each scheme against the vendor's own library.

- Stripe (https://docs.stripe.com/webhooks#verify-manually): ``Stripe-Signature: t=<unix seconds>,v1=<hex>``,
  the hex HMAC-SHA256 of ``"<t>.<raw body>"`` keyed by the endpoint secret as given (``whsec_…``, UTF-8).
- EasyPost (``easypost.util.validate_webhook``): ``X-Hmac-Signature: hmac-sha256-hex=<hex>``, the hex
  HMAC-SHA256 of the raw body keyed by the NFKD-normalised secret.
- Standard Webhooks (https://www.standardwebhooks.com, the ERP): ``webhook-id``, ``webhook-timestamp`` (unix
  seconds) and ``webhook-signature: v1,<base64>``, the base64 HMAC-SHA256 of ``"<id>.<timestamp>.<raw body>"``
  keyed by the base64-decoded part of the ``whsec_`` secret.
"""

import base64
import hashlib
import hmac
import unicodedata
from datetime import datetime


def stripe_headers(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    timestamp = int(at.timestamp())
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={digest}"}


def easypost_headers(secret: str, body: bytes) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()}


def standard_webhooks_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    key = base64.b64decode(secret[len("whsec_") :] if secret.startswith("whsec_") else secret)
    signed = b".".join([message_id.encode(), timestamp.encode(), body])
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": f"v1,{digest}"}
