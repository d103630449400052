"""The SMTP sink: a real aiosmtpd server whose handler stores messages for inspection.

The hub's mailer is tested over real SMTP, so its retries after a timeout really deliver twice. A receiver
deduplicates by ``Message-ID``; the sandbox does the same and counts ``deliveries`` so a test can see both
that the customer got one email and that the hub sent it twice.

Faults (upstream ``email``, operation ``send``, key = Message-ID): a transient failure answers ``451``, a
reject ``550``, a timeout-after-apply stores the message and then delays the ``250`` reply by the hang time.
"""

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from functools import cached_property
from typing import Any

from aiosmtpd.smtp import SMTP

from sandbox.faults import FaultEngine
from sandbox.ids import random_token
from sandbox.ledger import Ledger

_HEADERS = BytesHeaderParser()  # compat32: reads the header block only, without interpreting the values


@dataclass
class StoredMail:
    """One distinct message, kept as received and parsed only when read (``to_json``): a sink under load spends
    its time receiving, not parsing MIME. ``deliveries`` counts how many times it was received."""

    message_id: str
    order_id: str | None
    content: bytes
    envelope_from: str
    envelope_to: list[str]
    deliveries: int = 1
    conflicting: int = 0
    """Repeats under this Message-ID whose subject or body differed: a sender bug (one id, two messages)."""
    _repeats: list[bytes] = field(default_factory=list, repr=False)

    @cached_property
    def parsed(self) -> EmailMessage:
        return _parse(self.content)

    @property
    def subject(self) -> str:
        return str(self.parsed.get("Subject") or "")

    @property
    def body(self) -> str:
        return _text_body(self.parsed)

    def repeated(self, content: bytes) -> None:
        """Another delivery under this Message-ID; compared with the first when read."""
        self.deliveries += 1
        if content != self.content:  # byte-identical repeats (a retried send) need no parsing
            self._repeats.append(content)

    def _count_conflicts(self) -> None:
        for content in self._repeats:
            other = _parse(content)
            if (str(other.get("Subject") or ""), _text_body(other)) != (self.subject, self.body):
                self.conflicting += 1
        self._repeats.clear()

    def to_json(self) -> dict[str, Any]:
        """The entry served by ``GET /_sandbox/mail``."""
        self._count_conflicts()
        parsed = self.parsed
        return {
            "message_id": self.message_id,
            "from": str(parsed.get("From") or self.envelope_from),
            "to": str(parsed.get("To") or ", ".join(self.envelope_to)),
            "subject": self.subject,
            "body": self.body,
            "order_id": self.order_id,
            "deliveries": self.deliveries,
            "conflicting": self.conflicting,
        }


def _text_body(message: EmailMessage) -> str:
    """The text/plain part (or the HTML one when there is no text), with SMTP's CRLFs made plain newlines."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode(errors="replace")
    return text.replace("\r\n", "\n")


def _parse(content: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
    return parsed


def _header(headers: Message, name: str) -> str:
    return str(headers.get(name) or "").strip()


class Mailbox:
    """Received messages in arrival order, keyed by Message-ID; also the aiosmtpd handler."""

    def __init__(self, ledger: Ledger, faults: FaultEngine) -> None:
        self._ledger = ledger
        self._faults = faults
        self._messages: dict[str, StoredMail] = {}

    def messages(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Messages in arrival order, optionally only those of one order (``X-Hub-Order-Id``)."""
        return [m.to_json() for m in self._messages.values() if order_id is None or m.order_id == order_id]

    def store(self, content: bytes, mail_from: str, rcpt_tos: list[str]) -> StoredMail:
        """Store a raw message, or count another delivery of a known Message-ID."""
        headers = _HEADERS.parsebytes(content)
        message_id = _header(headers, "Message-ID") or f"<sandbox-{random_token(16)}@sandbox>"
        known = self._messages.get(message_id)
        if known is not None:
            known.repeated(content)
            return known
        order_id = _header(headers, "X-Hub-Order-Id") or None
        stored = StoredMail(message_id, order_id, content, mail_from, rcpt_tos)
        self._messages[message_id] = stored
        self._ledger.record(order_id or "", "email", "send", idempotency_key=message_id, ref=message_id)
        return stored

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd hook: decide faults, store, answer the SMTP status line."""
        content: bytes = envelope.original_content or envelope.content
        headers = _HEADERS.parsebytes(content)
        message_id, order_id = _header(headers, "Message-ID"), _header(headers, "X-Hub-Order-Id")
        decision = self._faults.decide("email", "send", order_id, message_id)
        await decision.wait_latency()
        if decision.transient_status is not None:
            return "451 4.3.0 Temporary failure, try again later (sandbox fault)"
        if decision.reject is not None and message_id not in self._messages:
            self._faults.note("rejected")
            return f"550 5.7.1 {decision.reject.message}"
        self.store(content, envelope.mail_from or "", list(envelope.rcpt_tos))
        await self._faults.hang(decision)
        return "250 OK"


async def start_smtp_server(mailbox: Mailbox, host: str, port: int) -> asyncio.Server:
    """Serve SMTP on the running loop (no thread), next to the HTTP server."""
    loop = asyncio.get_running_loop()
    # hostname is fixed: the default calls socket.getfqdn(), which can stall for seconds without DNS.
    return await loop.create_server(lambda: SMTP(mailbox, hostname="sandbox", loop=loop), host, port)
