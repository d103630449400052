"""Customer notices on several channels through the real adapters (SMTP, the Twilio-wire SMS adapter) to the
sandbox: per-event channels, a customer without a phone, an invalid number, and a lost SMS answer."""

import uuid

from activities.notifications import NotificationActivities
from domain.order import Customer
from hub.runtime.settings import NotificationSettings
from hub.runtime.upstreams import open_upstreams
from notifications.notice import CustomerNotice, NoticeKind, TrackingLink
from sandbox.client import SandboxControl
from sandbox.process import SandboxProcess
from tests.integration.conftest import hub_settings


def notice(
    order_id: str, phone: str | None, kind: NoticeKind = NoticeKind.ORDER_SHIPPED, seq: int = 1
) -> CustomerNotice:
    return CustomerNotice(
        order_id=order_id,
        kind=kind,
        seq=seq,
        customer=Customer(id="C-1", email="ada@example.com", name="Ada", phone=phone),
        currency="EUR",
        total=12900,
        tracking=[TrackingLink(carrier="USPS", tracking_code="EZ1000000001", url="https://track.example/EZ1")],
    )


def a_phone() -> str:
    return "+3361" + str(uuid.uuid4().int)[:8]


def settings(sandbox: SandboxProcess) -> NotificationSettings:
    base = hub_settings(sandbox).notifications
    return base.model_copy(update={"events": {"order-shipped": ["email", "sms"]}})


async def test_sms_sent_once_across_a_lost_answer_and_a_retry(sandbox: SandboxProcess, control: SandboxControl) -> None:
    order_id = f"SMS-{uuid.uuid4().hex[:10]}"
    hub = hub_settings(sandbox).model_copy(update={"notifications": settings(sandbox)})
    phone = a_phone()
    # The first SMS create is applied, then its answer is held past the adapter's timeout.
    await control.set_faults(
        [
            {
                "upstream": "sms",
                "operation": "send",
                "order_prefix": order_id,
                "timeout_after_apply_rate": 1.0,
                "faults_per_request": 1,
            }
        ]
    )
    async with open_upstreams(hub) as upstreams:
        notify = NotificationActivities(upstreams.notifier).notify
        first = await notify(notice(order_id, phone))
        again = await notify(notice(order_id, phone))  # as Temporal would retry the activity

    assert (first.channel, first.notification_id, first.accepted) == ("email", f"{order_id}.order-shipped.1", True)
    assert [(d.channel, d.notification_id, d.accepted) for d in first.channels] == [
        ("email", f"{order_id}.order-shipped.1", True),
        ("sms", f"{order_id}.order-shipped.1.sms", True),
    ]
    assert (await control.fault_stats())["timeout_after_apply"] == 1
    sms = await control.sms(order_id)
    assert len(sms) == 1, "one text message despite the lost answer and the retry"
    assert sms[0]["to"] == phone and sms[0]["body"].startswith(f"Order {order_id} has shipped; €129.00 charged.")
    assert "Tracking: https://track.example/EZ1\nRef " in sms[0]["body"], "the text stands alone: it has the link"
    assert first.channels[1].reference == again.channels[1].reference == sms[0]["sid"]
    ledger = await control.ledger(order_id)
    assert ledger["sms"] == {"sent": 1}
    mail = await control.mail(order_id)
    assert [(m["message_id"], m["deliveries"]) for m in mail] == [(f"<{order_id}.order-shipped.1@hub.example>", 2)]


async def test_per_event_channels_no_phone_and_invalid_number(sandbox: SandboxProcess, control: SandboxControl) -> None:
    order_id = f"SMS-{uuid.uuid4().hex[:10]}"
    hub = hub_settings(sandbox).model_copy(update={"notifications": settings(sandbox)})
    async with open_upstreams(hub) as upstreams:
        notify = NotificationActivities(upstreams.notifier).notify
        confirmed = await notify(notice(order_id, a_phone(), NoticeKind.ORDER_CONFIRMED))
        no_phone = await notify(notice(order_id, None, seq=2))
        invalid = await notify(notice(order_id, "+15005550001", seq=3))

    assert [d.channel for d in confirmed.channels] == ["email"]  # email only for that event
    assert [(d.channel, d.accepted, d.reason) for d in no_phone.channels] == [
        ("email", True, None),
        ("sms", False, "no_phone"),
    ]
    assert [(d.channel, d.accepted, d.reason) for d in invalid.channels] == [
        ("email", True, None),
        ("sms", False, "invalid_phone_number"),
    ]
    assert await control.sms(order_id) == []
    assert len(await control.mail(order_id)) == 3
