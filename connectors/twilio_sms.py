"""Customer text messages through Twilio's Programmable Messaging API (or anything wire-compatible with it).

Wire: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``, ``From`` (or
``MessagingServiceSid``) and ``Body``, HTTP Basic auth with the account SID and the auth token; the answer is
the Message resource (``sid`` ``SM…``, ``status`` ``queued``/``accepted``). Errors are JSON ``{"code", "message",
"more_info", "status"}``: 400 with a Twilio code for a request Twilio refuses (21211 invalid ``To``, 21614 not a
mobile number, 21610 the recipient replied STOP …), 401 (20003) for bad credentials, 429 (20429), 5xx.

Idempotency: Twilio has **no** idempotency key, so a re-sent create is a second SMS. The hub's answer:

- Every body ends with a short reference derived from the notification id (``Ref 3f9c2a1b7d``), the only
  place a Message resource can carry our identity (it has no metadata).
- **Look up before sending**: every ``send`` first lists ``Messages.json?To=…&PageSize=50`` (newest first)
  and returns the message already carrying the reference, if any. A Temporal retry (after a lost answer, a
  crash, or another channel's failure in the same notify activity) therefore does not text the customer again.
- After an indeterminate create (timeout, connection lost after sending, 5xx) the same lookup runs at once:
  found → it was sent; not found → still unknown, the activity retries (and looks up again first).

Limits, honestly: the list filters by ``To`` only (not ``DateSent``: a message still ``queued`` has no sent date
and would be missed), so a number that received more than 50 messages since ours would hide it; and Twilio's
list is not guaranteed to show a message the very instant it was accepted. In those windows a retry can send a
second, identical SMS: the channel is *at-least-once with a lookup that makes duplicates rare*, never
at-most-once. The lookup costs one read per SMS.

Privacy: the phone number is never logged nor put in an error message; errors carry Twilio's numeric code only.
"""

import hashlib
from typing import Any

import httpx

from connectors.errors import BusinessRejection, ConfigurationError, ConnectorError
from connectors.http import json_body, reconcile, send
from connectors.sms_encoding import cut_to, gsm_friendly
from domain.notification import Delivery, OutboundMessage

UPSTREAM = "sms"
API_VERSION = "2010-04-01"
LOOKUP_PAGE_SIZE = 50

MAX_SEGMENTS = 3
"""At most three concatenated segments (459 GSM-7 characters, 201 UCS-2): every notice's short text fits in that
with its links (``tests/unit/test_sms_texts.py``); what does not is cut, never its reference."""

# Twilio error codes (https://www.twilio.com/docs/api/errors) that say the recipient cannot get this message.
RECIPIENT_CODES: dict[int, str] = {
    21211: "invalid_phone_number",
    21214: "unreachable_phone_number",
    21217: "invalid_phone_number",
    21408: "region_not_enabled",
    21610: "recipient_unsubscribed",
    21612: "unroutable_phone_number",
    21614: "not_a_mobile_number",
}
# Codes that are our configuration's fault: a sender we do not own, a missing parameter, a trial account.
CONFIGURATION_CODES = frozenset({20003, 20404, 21212, 21602, 21603, 21604, 21606, 21608, 21659, 21701})


def reference_of(notification_id: str) -> str:
    """The short, customer-visible reference that identifies our message in Twilio's message list."""
    return "Ref " + hashlib.sha256(notification_id.encode()).hexdigest()[:10]


def sms_text(message: OutboundMessage, *, max_segments: int = MAX_SEGMENTS) -> str:
    """The SMS body: the renderer's short text (the subject alone if it wrote none), in GSM-7 lookalikes where
    our formatting chose typographic characters, cut to ``max_segments`` with the reference last."""
    core = gsm_friendly((message.short_text or message.subject).strip())
    return cut_to(core, max_segments, keep="\n" + reference_of(message.notification_id))


def _twilio_error(response: httpx.Response) -> ConnectorError | None:
    """Twilio's own codes on a 400; everything else goes to the generic status rules."""
    if response.status_code != 400:
        return None
    raw = json_body(response).get("code")
    code = raw if isinstance(raw, int) else int(raw) if isinstance(raw, str) and raw.isdigit() else None
    # Only the numeric code goes into the message: Twilio's texts quote the phone number.
    if code in RECIPIENT_CODES:
        return BusinessRejection(f"{UPSTREAM}: Twilio {code}", upstream=UPSTREAM, code=RECIPIENT_CODES[code])
    if code in CONFIGURATION_CODES or code is None:
        return ConfigurationError(f"{UPSTREAM}: Twilio {code}", upstream=UPSTREAM, code=str(code) if code else None)
    return BusinessRejection(f"{UPSTREAM}: Twilio {code}", upstream=UPSTREAM, code="message_rejected")


class TwilioSmsNotifier:
    """``Notifier`` for ``channel="sms"``. ``http`` carries the base URL (``https://api.twilio.com``), Basic auth
    with the account SID and auth token, and the timeout. Exactly one of ``sender`` (an E.164 number or an
    alphanumeric sender id) and ``messaging_service_sid`` (``MG…``) is used, the service when both are set."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        account_sid: str,
        sender: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> None:
        if not sender and not messaging_service_sid:
            raise ValueError("an SMS sender (From number) or a messaging service SID is required")
        self._http = http
        self._path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._sender = sender
        self._service = messaging_service_sid

    async def send(self, message: OutboundMessage) -> Delivery:
        body = sms_text(message)
        found = await self._find(message)
        if found is not None:
            return found
        return await reconcile(lambda: self._create(message, body), lambda: self._find(message))

    async def _create(self, message: OutboundMessage, body: str) -> Delivery:
        form = {"To": message.recipient, "Body": body}
        if self._service:
            form["MessagingServiceSid"] = self._service
        else:
            assert self._sender is not None
            form["From"] = self._sender
        response = await send(
            # Twilio ignores headers it does not know; the sandbox files the message under this order.
            lambda: self._http.post(self._path, data=form, headers={"X-Hub-Order-Id": message.order_id}),
            upstream=UPSTREAM,
            mutation=True,
            vendor=_twilio_error,
        )
        return self._delivery(message, json_body(response))

    async def _find(self, message: OutboundMessage) -> Delivery | None:
        """Our message among the latest sent to this number, recognised by its reference."""
        params = {"To": message.recipient, "PageSize": str(LOOKUP_PAGE_SIZE)}
        response = await send(
            lambda: self._http.get(self._path, params=params),
            upstream=UPSTREAM,
            mutation=False,
            vendor=_twilio_error,
        )
        reference = reference_of(message.notification_id)
        messages = json_body(response).get("messages")
        for item in messages if isinstance(messages, list) else []:
            if isinstance(item, dict) and reference in str(item.get("body") or ""):
                return self._delivery(message, item)
        return None

    @staticmethod
    def _delivery(message: OutboundMessage, resource: dict[str, Any]) -> Delivery:
        sid = resource.get("sid")
        return Delivery(
            notification_id=message.notification_id,
            channel="sms",
            accepted=True,
            reference=str(sid) if sid else None,
        )
