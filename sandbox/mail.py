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
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP

from sandbox.faults import FaultEngine
from sandbox.ids import random_token
from sandbox.ledger import Ledger


@dataclass
class StoredMail:
    """One distinct message; ``deliveries`` counts how many times it was received."""

    message_id: str
    sender: str
    to: str
    subject: str
    body: str
    order_id: str | None
    deliveries: int = 1
    conflicting: int = 0
    """Repeats under this Message-ID whose subject or body differed: a sender bug (one id, two messages)."""

    def to_json(self) -> dict[str, Any]:
        """The entry served by ``GET /_sandbox/mail``."""
        return {
            "message_id": self.message_id,
            "from": self.sender,
            "to": self.to,
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
        parsed = _parse(content)
        message_id = str(parsed.get("Message-ID") or f"<sandbox-{random_token(16)}@sandbox>").strip()
        known = self._messages.get(message_id)
        if known is not None:
            known.deliveries += 1
            if (known.subject, known.body) != (str(parsed.get("Subject") or ""), _text_body(parsed)):
                known.conflicting += 1
            return known
        order_id = str(parsed["X-Hub-Order-Id"]).strip() if parsed["X-Hub-Order-Id"] else None
        stored = StoredMail(
            message_id=message_id,
            sender=str(parsed.get("From") or mail_from),
            to=str(parsed.get("To") or ", ".join(rcpt_tos)),
            subject=str(parsed.get("Subject") or ""),
            body=_text_body(parsed),
            order_id=order_id,
        )
        self._messages[message_id] = stored
        self._ledger.record(order_id or "", "email", "send", idempotency_key=message_id, ref=message_id)
        return stored

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd hook: decide faults, store, answer the SMTP status line."""
        content: bytes = envelope.original_content or envelope.content
        headers = _parse(content)
        message_id = str(headers.get("Message-ID") or "").strip()
        order_id = str(headers.get("X-Hub-Order-Id") or "").strip()
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
