"""Customer email over SMTP.

SMTP has no idempotency key, so the message's identity is its ``Message-ID``, derived from the notification id:
a retry after a lost answer re-sends the *same* message, which receivers (and our sandbox) recognise and drop.

Connections are kept open between messages, as mail submission services expect of a steady sender: a message
then costs its own three commands (MAIL, RCPT, DATA) rather than a TCP connection, EHLO, STARTTLS and login
as well. A connection idle longer than ``idle_s`` is closed rather than reused: servers drop idle clients
(aiosmtpd after 5 minutes, commercial relays after as little as 30 s). One the server closed anyway is noticed on
first use and replaced, once, by a fresh one.
"""

import time
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate, parseaddr
from types import TracebackType
from typing import Self

import aiosmtplib

from connectors.errors import BusinessRejection, ConfigurationError, TransientError
from domain.notification import Delivery, OutboundMessage

UPSTREAM = "email"

# Bodies in quoted-printable UTF-8: readable in the raw message, safe for any 7-bit relay.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


class SmtpEmailNotifier:
    """``Notifier`` for the email channel over any SMTP submission server; ``async with`` closes its connections."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        message_id_domain: str,
        timeout_s: float = 10.0,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        max_idle: int = 8,
        idle_s: float = 20.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._envelope_sender = parseaddr(sender)[1] or sender
        self._domain = message_id_domain
        self._timeout = timeout_s
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._max_idle = max_idle
        self._idle_s = idle_s
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Say QUIT on every idle connection."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            await _quit(smtp)

    def message_id(self, notification_id: str) -> str:
        return f"<{notification_id}@{self._domain}>"

    async def send(self, message: OutboundMessage) -> Delivery:
        content = self.render(message)
        try:
            await self._submit(message.recipient, content)
        # Only the reply code goes into the error: SMTP reply texts often echo the recipient's address.
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise BusinessRejection("email: recipient refused", upstream=UPSTREAM, code="recipient_rejected") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code in (530, 534, 535, 538):
                raise ConfigurationError(f"email: SMTP {exc.code}", upstream=UPSTREAM) from exc
            if 400 <= exc.code < 500:
                raise TransientError(f"email: SMTP {exc.code}", upstream=UPSTREAM) from exc
            raise BusinessRejection(f"email: SMTP {exc.code}", upstream=UPSTREAM, code="message_rejected") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Timeouts and broken connections included: re-sending is safe, the Message-ID dedupes.
            raise TransientError(f"email: {type(exc).__name__}", upstream=UPSTREAM) from exc
        return Delivery(notification_id=message.notification_id, channel="email", accepted=True)

    def render(self, message: OutboundMessage) -> bytes:
        """The message as sent: text, or text and HTML as ``multipart/alternative`` (clients show the HTML part).

        Built with the ``email`` package's compat32 classes: the modern ``EmailMessage`` parses every header it
        is given, which took most of the CPU a message costs the worker."""
        text = _part(message.text, "plain")
        email: Message = text
        if message.html:
            email = MIMEMultipart("alternative")
            email.attach(text)
            email.attach(_part(message.html, "html"))
        email["Message-ID"] = self.message_id(message.notification_id)
        email["From"] = formataddr(parseaddr(self._sender), charset="utf-8")  # a display name RFC 2047-encoded
        email["To"] = message.recipient
        email["Subject"] = message.subject if message.subject.isascii() else Header(message.subject, _UTF8).encode()
        email["Date"] = formatdate(localtime=False)
        email["X-Hub-Order-Id"] = message.order_id
        email["X-Hub-Notification-Id"] = message.notification_id
        return email.as_bytes()

    async def _submit(self, recipient: str, content: bytes) -> None:
        smtp = self._take_idle()
        reused = smtp is not None
        if smtp is None:
            smtp = await self._connect()
        try:
            try:
                await smtp.sendmail(self._envelope_sender, [recipient], content)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
                # The server had closed the idle connection: the message never left, send it on a fresh one.
                smtp.close()
                smtp = await self._connect()
                await smtp.sendmail(self._envelope_sender, [recipient], content)
        except BaseException:
            smtp.close()  # a failed exchange leaves the session in a state not worth reusing
            raise
        await self._keep(smtp)

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            # Greet as our mail domain: left unset, aiosmtplib resolves this host's FQDN (a DNS lookup in a
            # thread) for every connection.
            local_hostname=self._domain,
        )
        await smtp.connect()
        return smtp

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            smtp, since = self._idle.pop()
            if smtp.is_connected and now - since < self._idle_s:
                return smtp
            smtp.close()
        return None

    async def _keep(self, smtp: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._max_idle:
            self._idle.append((smtp, time.monotonic()))
        else:
            await _quit(smtp)


def _part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8)
    return part


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
