"""The Twilio Programmable Messaging subset the hub's SMS adapter uses: create, fetch and list Messages.

Wire as Twilio's (the official ``twilio`` client works unmodified): ``/2010-04-01/Accounts/{AccountSid}/Messages.json``
with form-encoded ``To``, ``From`` or ``MessagingServiceSid``, ``Body``; HTTP Basic auth with the account SID
(``AC`` + 32 hex digits, the same as in the path) and any non-empty auth token; JSON Message resources; Twilio
error objects ``{"code", "message", "more_info", "status"}``.

Numbers: ``To`` must be E.164 (``+`` and 2 to 15 digits), otherwise 400 code 21211, as Twilio. Twilio's test
numbers behave as with Twilio's test credentials: ``+15005550001`` → 21211 (invalid), ``+15005550002`` → 21612
(cannot route), ``+15005550004`` → 21610 (the recipient replied STOP), ``+15005550009`` → 21614 (not a mobile).

Like Twilio, there is no idempotency: every accepted create is a new message (``SM…``) and a new ledger effect
``sms``/``send``; the hub's adapter avoids re-sending by looking its reference up first. The create answers
``status: queued`` (``accepted`` with a messaging service); afterwards the message reads ``delivered``.

Faults: upstream ``sms``, operation ``send`` for a create (key: ``To`` and ``Body``, so an identical re-send gets
the next draw; order id: the ``X-Hub-Order-Id`` header, which Twilio would ignore), ``read`` for a fetch or list
(order id: the fetched message's; a list's is ``""``). Transient answers are Twilio's 500/502/503 (code 20500)
and 429 (code 20429, ``Retry-After: 1``); a reject answers 400 with the rule's code (numeric when it is digits).
"""

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import READ, FaultEngine, read_key, retry_after_headers
from sandbox.ids import random_token
from sandbox.ledger import Ledger

API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9]\d{1,14}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
MAX_BODY = 1600
TEST_NUMBERS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def _twilio_date(moment: datetime) -> str:
    """Twilio's RFC 2822 dates: ``Tue, 26 Jul 2016 12:50:07 +0000``."""
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def twilio_error(status: int, code: int | str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _segments(body: str) -> int:
    gsm = all(ord(c) < 128 for c in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


@dataclass
class StoredSms:
    sid: str
    account_sid: str
    to: str
    sender: str | None
    messaging_service_sid: str | None
    body: str
    order_id: str | None
    created: datetime

    def to_json(self, *, just_created: bool = False) -> dict[str, Any]:
        """The Twilio Message resource; the create's answer shows it queued, later reads delivered."""
        status = ("accepted" if self.messaging_service_sid else "queued") if just_created else "delivered"
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _twilio_date(self.created),
            "date_sent": None if just_created else _twilio_date(self.created),
            "date_updated": _twilio_date(self.created),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.sender,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": status,
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": uri,
        }

    def inspection(self) -> dict[str, Any]:
        """The entry served by ``GET /_sandbox/sms``."""
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.sender or self.messaging_service_sid,
            "body": self.body,
            "order_id": self.order_id,
            "date_created": self.created.isoformat(),
        }


class TwilioApi:
    """The ``/2010-04-01`` routes and the messages they created."""

    def __init__(self, ledger: Ledger, faults: FaultEngine) -> None:
        self._ledger = ledger
        self._faults = faults
        self._messages: dict[str, StoredSms] = {}

    def routes(self) -> list[Route]:
        """Relative to the ``/2010-04-01`` mount."""
        return [
            Route("/Accounts/{account}/Messages.json", self._create, methods=["POST"]),
            Route("/Accounts/{account}/Messages.json", self._list, methods=["GET"]),
            Route("/Accounts/{account}/Messages/{sid}.json", self._fetch, methods=["GET"]),
        ]

    def messages(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Sent messages in order, optionally only one order's (``X-Hub-Order-Id``)."""
        return [m.inspection() for m in self._messages.values() if order_id is None or m.order_id == order_id]

    @staticmethod
    def _authenticate(request: Request) -> JSONResponse | None:
        account = request.path_params["account"]
        auth = request.headers.get("authorization", "")
        try:
            user, _, token = base64.b64decode(auth.removeprefix("Basic "), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, token = "", ""
        if not auth.startswith("Basic ") or not ACCOUNT_SID.fullmatch(user) or not token:
            return twilio_error(401, 20003, "Authenticate")
        if user != account:
            return twilio_error(403, 20003, "The account in the URL does not match the credentials.")
        return None

    def _transient(self, status: int) -> JSONResponse:
        code = 20429 if status == 429 else 20500
        message = "Too Many Requests" if status == 429 else "Internal Server Error (sandbox fault)"
        return twilio_error(status, code, message, retry_after_headers(status))

    async def _create(self, request: Request) -> Response:
        if (denied := self._authenticate(request)) is not None:
            return denied
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From") or None, form.get("MessagingServiceSid") or None
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        order_id = request.headers.get("x-hub-order-id", "")
        decision = self._faults.decide("sms", "send", order_id, f"{to}\x1f{body}")
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        if not E164.fullmatch(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in TEST_NUMBERS:
            code, message = TEST_NUMBERS[to]
            return twilio_error(400, code, message)
        if decision.reject is not None:
            self._faults.note("rejected")
            reject = decision.reject
            return twilio_error(400, int(reject.code) if reject.code.isdigit() else reject.code, reject.message)
        stored = StoredSms(
            sid="SM" + random_token(32).lower(),
            account_sid=request.path_params["account"],
            to=to,
            sender=None if service else sender,
            messaging_service_sid=service,
            body=body,
            order_id=order_id or None,
            created=datetime.now(UTC),
        )
        self._messages[stored.sid] = stored
        self._ledger.record(order_id, "sms", "send", idempotency_key=None, ref=stored.sid)
        answer = stored.to_json(just_created=True)
        await self._faults.hang(decision)
        return JSONResponse(answer, status_code=201)

    async def _read(self, request: Request, order_id: str) -> Response | None:
        if (denied := self._authenticate(request)) is not None:
            return denied
        key = read_key("GET", request.url.path, request.query_params.multi_items())
        decision = self._faults.decide("sms", READ, order_id, key)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return self._transient(decision.transient_status)
        return None

    async def _fetch(self, request: Request) -> Response:
        found = self._messages.get(request.path_params["sid"])
        if (failed := await self._read(request, (found.order_id or "") if found else "")) is not None:
            return failed
        if found is None or found.account_sid != request.path_params["account"]:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(found.to_json())

    async def _list(self, request: Request) -> Response:
        if (failed := await self._read(request, "")) is not None:
            return failed
        query = request.query_params
        account = request.path_params["account"]
        try:
            size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            page = max(int(query.get("Page", "0")), 0)
        except ValueError:
            return twilio_error(400, 20001, "Invalid paging parameter")
        matching = [
            m
            for m in reversed(self._messages.values())  # newest first, as Twilio
            if m.account_sid == account and query.get("To") in (None, m.to) and query.get("From") in (None, m.sender)
        ]
        chosen = matching[page * size : (page + 1) * size]
        path = request.url.path
        filters = [(k, v) for k, v in query.multi_items() if k in ("To", "From")]

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode([*filters, ('PageSize', str(size)), ('Page', str(number))])}"

        return JSONResponse(
            {
                "messages": [m.to_json() for m in chosen],
                "end": page * size + max(len(chosen) - 1, 0),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if (page + 1) * size < len(matching) else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": page * size,
                "uri": page_uri(page),
            }
        )
