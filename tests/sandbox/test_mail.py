"""The SMTP sink over real SMTP (aiosmtplib)."""

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import httpx

from sandbox.process import SandboxProcess

ReadLedger = Callable[[str], Awaitable[dict[str, Any]]]


def message(order_id: str, message_id: str, subject: str = "Your order is confirmed") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "shop@example.com"
    mail["To"] = "ada@example.com"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail["X-Hub-Order-Id"] = order_id
    mail.set_content(f"Hello Ada,\nyour order {order_id} is confirmed.\n")
    mail.add_alternative(f"<p>Hello Ada, your order {order_id} is confirmed.</p>", subtype="html")
    return mail


async def send(sandbox: SandboxProcess, mail: EmailMessage) -> None:
    await aiosmtplib.send(mail, hostname=sandbox.host, port=sandbox.smtp_port, timeout=5)


async def mails(http: httpx.AsyncClient, order_id: str | None = None) -> list[dict[str, Any]]:
    response = await http.get("/_sandbox/mail", params={"order_id": order_id} if order_id else None)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


async def test_sent_message_is_listed_by_order(
    sandbox: SandboxProcess, http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    message_id = make_msgid(domain="hub.test")
    await send(sandbox, message(order_id, message_id))

    [stored] = await mails(http, order_id)
    assert stored["message_id"] == message_id
    assert stored["order_id"] == order_id
    assert stored["to"] == "ada@example.com"
    assert stored["subject"] == "Your order is confirmed"
    assert stored["body"] == f"Hello Ada,\nyour order {order_id} is confirmed.\n"  # the text part
    assert stored["deliveries"] == 1
    assert any(m["message_id"] == message_id for m in await mails(http))  # unfiltered: everything
    assert (await ledger(order_id))["email"] == {"sent": 1}


async def test_same_message_id_is_one_entry_with_two_deliveries(
    sandbox: SandboxProcess, http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    message_id = make_msgid(domain="hub.test")
    await send(sandbox, message(order_id, message_id))
    await send(sandbox, message(order_id, message_id))
    await send(sandbox, message(order_id, make_msgid(domain="hub.test"), subject="Shipped"))

    listed = await mails(http, order_id)
    assert [(m["subject"], m["deliveries"]) for m in listed] == [
        ("Your order is confirmed", 2),
        ("Shipped", 1),
    ]
    assert (await ledger(order_id))["email"] == {"sent": 2}


async def test_a_repeat_that_says_something_else_is_counted_as_conflicting(
    sandbox: SandboxProcess, http: httpx.AsyncClient, order_id: str
) -> None:
    """The sink keeps messages raw and compares a repeat when read: the same text again (a new Date header
    included) is a delivery, other text under the same Message-ID is a sender bug."""
    same, other = make_msgid(domain="hub.test"), make_msgid(domain="hub.test")
    await send(sandbox, message(order_id, same))
    repeat = message(order_id, same)
    repeat["Date"] = "Mon, 23 Nov 2026 08:00:00 -0000"  # bytes differ, the message does not
    await send(sandbox, repeat)
    await send(sandbox, message(order_id, other))
    await send(sandbox, message(order_id, other, subject="Your order is cancelled"))

    listed = {m["message_id"]: (m["deliveries"], m["conflicting"]) for m in await mails(http, order_id)}
    assert listed == {same: (2, 0), other: (2, 1)}
