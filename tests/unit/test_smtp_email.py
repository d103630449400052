"""The email channel against a real SMTP server (aiosmtpd): the deterministic Message-ID, the text and HTML
parts of one message, and a refused recipient reported by code without the address."""

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from connectors.errors import BusinessRejection
from connectors.smtp_email import SmtpEmailNotifier
from domain.notification import OutboundMessage
from sandbox.process import free_port


class Inbox:
    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refuse"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
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


def _message(recipient: str = "ada@example.com") -> OutboundMessage:
    return OutboundMessage(
        notification_id="A-1.order-shipped.1",
        order_id="A-1",
        recipient=recipient,
        subject="Order A-1 has shipped",
        text="Your order is on its way.",
        html="<p>Your order is <b>on its way</b>.</p>",
    )


async def test_one_message_with_text_and_html_under_a_deterministic_message_id(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    notifier = SmtpEmailNotifier(host="127.0.0.1", port=port, sender="shop@example.com", message_id_domain="hub.test")

    delivery = await notifier.send(_message())

    [received] = handler.received
    assert delivery.accepted and received["Message-ID"] == "<A-1.order-shipped.1@hub.test>"
    assert received.get_content_type() == "multipart/alternative"
    plain, html = received.get_body(("plain",)), received.get_body(("html",))
    assert plain is not None and "on its way" in plain.get_content()
    assert html is not None and "<b>on its way</b>" in html.get_content()


async def test_a_refused_recipient_is_a_business_rejection_that_names_no_address(inbox: tuple[Inbox, int]) -> None:
    _, port = inbox
    notifier = SmtpEmailNotifier(host="127.0.0.1", port=port, sender="shop@example.com", message_id_domain="hub.test")

    with pytest.raises(BusinessRejection) as refused:
        await notifier.send(_message("refused.customer@example.com"))
    assert refused.value.code == "recipient_rejected" and "refused.customer" not in str(refused.value)
