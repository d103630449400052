"""Customer email over SMTP.

SMTP has no idempotency key, so the message's identity is its ``Message-ID``, derived from the notification id:
a retry after a lost answer re-sends the *same* message, which receivers (and our sandbox) recognise and drop.
"""

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from connectors.errors import BusinessRejection, ConfigurationError, TransientError
from domain.notification import Delivery, OutboundMessage

UPSTREAM = "email"


class SmtpEmailNotifier:
    """``Notifier`` for the email channel over any SMTP submission server."""

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
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._domain = message_id_domain
        self._timeout = timeout_s
        self._username = username
        self._password = password
        self._start_tls = start_tls

    def message_id(self, notification_id: str) -> str:
        return f"<{notification_id}@{self._domain}>"

    async def send(self, message: OutboundMessage) -> Delivery:
        email = EmailMessage()
        email["Message-ID"] = self.message_id(message.notification_id)
        email["From"] = self._sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        email["X-Hub-Order-Id"] = message.order_id
        email["X-Hub-Notification-Id"] = message.notification_id
        email.set_content(message.text)
        if message.html:  # multipart/alternative: mail clients show the HTML part, the rest the text
            email.add_alternative(message.html, subtype="html")
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                timeout=self._timeout,
                username=self._username,
                password=self._password,
                start_tls=self._start_tls,
                # Greet as our mail domain: left unset, aiosmtplib resolves this host's FQDN (a DNS lookup in a
                # thread) for every message.
                local_hostname=self._domain,
            )
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
