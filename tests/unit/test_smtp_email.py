"""The email channel against a real SMTP server (aiosmtpd): the deterministic Message-ID, the text and HTML
parts of one message, a localized subject, connections kept for the next message (and replaced when the server
dropped them), and a refused recipient reported by code without the address."""

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from connectors.errors import BusinessRejection
from connectors.smtp_email import SmtpEmailNotifier
from domain.notification import OutboundMessage
from sandbox.process import free_port


class Inbox:
    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.sessions: set[int] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refuse"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.sessions.add(id(session))
        return "250 Message accepted"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _message(recipient: str = "ada@example.com", subject: str = "Order A-1 has shipped", n: int = 1) -> OutboundMessage:
    return OutboundMessage(
        notification_id=f"A-1.order-shipped.{n}",
        order_id="A-1",
        recipient=recipient,
        subject=subject,
        text="Your order is on its way.",
        html="<p>Your order is <b>on its way</b>.</p>",
    )


async def test_one_message_with_text_and_html_under_a_deterministic_message_id(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    async with SmtpEmailNotifier(
        host="127.0.0.1", port=port, sender="Boutique Zoë <shop@example.com>", message_id_domain="hub.test"
    ) as notifier:
        delivery = await notifier.send(_message(subject="Commande A-1 expédiée: 12,00 €"))

    [received] = handler.received
    assert delivery.accepted and received["Message-ID"] == "<A-1.order-shipped.1@hub.test>"
    assert (received["Subject"], received["From"]) == (
        "Commande A-1 expédiée: 12,00 €",
        "Boutique Zoë <shop@example.com>",
    )
    assert received.get_content_type() == "multipart/alternative"
    plain, html = received.get_body(("plain",)), received.get_body(("html",))
    assert plain is not None and "on its way" in plain.get_content()
    assert html is not None and "<b>on its way</b>" in html.get_content()


async def test_a_refused_recipient_is_a_business_rejection_that_names_no_address(inbox: tuple[Inbox, int]) -> None:
    _, port = inbox
    async with SmtpEmailNotifier(
        host="127.0.0.1", port=port, sender="shop@example.com", message_id_domain="hub.test"
    ) as notifier:
        with pytest.raises(BusinessRejection) as refused:
            await notifier.send(_message("refused.customer@example.com"))
        await notifier.send(_message(n=2))  # the refusal did not break the next message
    assert [m["Message-ID"] for m in inbox[0].received] == ["<A-1.order-shipped.2@hub.test>"]
    assert refused.value.code == "recipient_rejected" and "refused.customer" not in str(refused.value)


async def test_messages_in_a_row_share_one_connection(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    async with SmtpEmailNotifier(
        host="127.0.0.1", port=port, sender="shop@example.com", message_id_domain="hub.test"
    ) as notifier:
        for n in range(1, 4):
            await notifier.send(_message(n=n))

    assert len(handler.received) == 3 and len(handler.sessions) == 1


async def test_a_connection_the_server_dropped_is_replaced_and_the_message_still_sent(
    inbox: tuple[Inbox, int],
) -> None:
    handler, port = inbox
    async with SmtpEmailNotifier(
        host="127.0.0.1", port=port, sender="shop@example.com", message_id_domain="hub.test"
    ) as notifier:
        await notifier.send(_message(n=1))
        [(idle, _)] = notifier._idle

        async def dropped(*args: Any, **kwargs: Any) -> Any:
            # What aiosmtplib raises when the server closed the connection before the client noticed.
            idle.close()
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")

        idle.sendmail = dropped  # type: ignore[method-assign]
        await notifier.send(_message(n=2))

    assert [m["Message-ID"] for m in handler.received] == [
        "<A-1.order-shipped.1@hub.test>",
        "<A-1.order-shipped.2@hub.test>",
    ]
    assert len(handler.sessions) == 2


async def test_a_connection_idle_too_long_is_not_reused(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    async with SmtpEmailNotifier(
        host="127.0.0.1", port=port, sender="shop@example.com", message_id_domain="hub.test", idle_s=0.0
    ) as notifier:
        await notifier.send(_message(n=1))
        await notifier.send(_message(n=2))

    assert len(handler.received) == 2 and len(handler.sessions) == 2
