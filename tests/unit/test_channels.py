"""The SMS and message-webhook adapters' wire and error mapping (httpx MockTransport), and the channel router."""

import json
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
from standardwebhooks import Webhook

from connectors.channels import ChannelRouter
from connectors.errors import (
    BusinessRejection,
    ConfigurationError,
    IndeterminateError,
    RateLimitedError,
    TransientError,
)
from connectors.message_webhook import MessageWebhookNotifier
from connectors.sms_encoding import segments
from connectors.twilio_sms import MAX_SEGMENTS, TwilioSmsNotifier, reference_of, sms_text
from domain.notification import Delivery, OutboundMessage
from hub.runtime.settings import NotificationSettings

ACCOUNT = "AC" + "a" * 32
PHONE = "+33612345678"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
Handler = Callable[[httpx.Request], httpx.Response]


def message(channel: str = "sms", **changes: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "notification_id": "A-1.order-shipped.1.sms",
        "order_id": "A-1",
        "channel": channel,
        "recipient": PHONE,
        "subject": "Your order A-1 has shipped",
        "text": "Hello Ada,\nit left the warehouse today.\n\nTracking: https://track.example/T1\n\nThanks",
        "event": "order-shipped",
        "locale": "fr",
    }
    return OutboundMessage.model_validate(fields | changes)


def twilio(handler: Handler, **kwargs: str) -> TwilioSmsNotifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://api.twilio.test")
    return TwilioSmsNotifier(http, account_sid=ACCOUNT, **({"sender": "+15005550006"} | kwargs))


def no_messages(request: httpx.Request) -> httpx.Response | None:
    if request.method == "GET":
        assert request.url.params["To"] == PHONE
        return httpx.Response(200, json={"messages": [], "next_page_uri": None})
    return None


def answering(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return no_messages(request) or httpx.Response(status, json=body, headers=headers)

    return handle


async def test_sms_posts_twilio_form_and_returns_the_sid() -> None:
    posted: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if (listed := no_messages(request)) is not None:
            return listed
        posted.append(request)
        return httpx.Response(201, json={"sid": "SM" + "1" * 32, "status": "queued"})

    delivery = await twilio(handle).send(message())
    assert delivery == Delivery(
        notification_id="A-1.order-shipped.1.sms", channel="sms", accepted=True, reference="SM" + "1" * 32
    )
    [request] = posted
    assert request.url.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode())
    assert form["To"] == [PHONE] and form["From"] == ["+15005550006"] and "MessagingServiceSid" not in form
    assert form["Body"][0].endswith(reference_of("A-1.order-shipped.1.sms"))


async def test_sms_uses_the_messaging_service_when_configured() -> None:
    forms: list[dict[str, list[str]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if (listed := no_messages(request)) is not None:
            return listed
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(201, json={"sid": "SM1", "status": "accepted"})

    await twilio(handle, messaging_service_sid="MG" + "0" * 32).send(message())
    assert forms[0]["MessagingServiceSid"] == ["MG" + "0" * 32] and "From" not in forms[0]


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            400,
            {"code": 21211, "message": f"The 'To' number {PHONE} is not valid"},
            BusinessRejection,
            "invalid_phone_number",
        ),
        (400, {"code": 21614, "message": "not a mobile"}, BusinessRejection, "not_a_mobile_number"),
        (400, {"code": 21610, "message": "unsubscribed"}, BusinessRejection, "recipient_unsubscribed"),
        (400, {"code": 21606, "message": "From not owned"}, ConfigurationError, "21606"),
        (401, {"code": 20003, "message": "Authenticate"}, ConfigurationError, None),
        (403, {"code": 20003, "message": "Forbidden"}, ConfigurationError, None),
        (500, {"code": 20500, "message": "Internal"}, IndeterminateError, None),
        (503, {"code": 20500, "message": "Unavailable"}, IndeterminateError, None),
    ],
)
async def test_sms_error_mapping_never_quotes_the_number(
    status: int, body: dict[str, object], error: type[Exception], code: str | None
) -> None:
    with pytest.raises(error) as raised:
        await twilio(answering(status, body)).send(message())
    assert PHONE not in str(raised.value)
    if code is not None:
        assert getattr(raised.value, "code", None) == code


async def test_sms_429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimitedError) as limited:
        await twilio(answering(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "3"})).send(
            message()
        )
    assert limited.value.retry_after == 3.0


async def test_sms_is_not_resent_when_the_lookup_finds_it() -> None:
    """A retry (after a lost answer, or another channel's failure) finds the message and sends nothing."""
    reference = reference_of("A-1.order-shipped.1.sms")

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET", "must not send again"
        return httpx.Response(200, json={"messages": [{"sid": "SMold", "body": f"Shipped\n{reference}"}]})

    assert (await twilio(handle).send(message())).reference == "SMold"


async def test_sms_timeout_is_reconciled_by_lookup() -> None:
    sent: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            sent.append(parse_qs(request.content.decode())["Body"][0])
            raise httpx.ReadTimeout("timed out", request=request)
        bodies = [{"sid": "SMlost", "body": body} for body in sent]
        return httpx.Response(200, json={"messages": bodies})

    delivery = await twilio(handle).send(message())
    assert (delivery.reference, len(sent)) == ("SMlost", 1)


async def test_sms_timeout_not_found_stays_indeterminate() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"messages": []})

    with pytest.raises(IndeterminateError) as unknown:
        await twilio(handle).send(message())
    assert PHONE not in str(unknown.value)


def test_sms_text_is_the_short_text_cut_to_three_segments_with_the_reference_last() -> None:
    long = message(short_text="x " * 2000)
    body = sms_text(long)
    assert segments(body) == MAX_SEGMENTS and body.endswith("...\n" + reference_of(long.notification_id))
    assert sms_text(message(short_text="Shipped: https://t.example/1")) == (
        "Shipped: https://t.example/1\n" + reference_of("A-1.order-shipped.1.sms")
    )
    # A renderer that wrote no short text: the subject alone, never the greeting with the customer's name.
    assert sms_text(message()) == "Your order A-1 has shipped\n" + reference_of("A-1.order-shipped.1.sms")


# -- the retailer's webhook --------------------------------------------------------------------------------------


def hook(handler: Handler) -> MessageWebhookNotifier:
    return MessageWebhookNotifier(httpx.AsyncClient(transport=httpx.MockTransport(handler)), secret=SECRET)


async def test_webhook_is_signed_standard_webhooks_and_carries_the_message() -> None:
    received: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        # The receiving side, with the reference library: raises unless the signature and timestamp are good.
        payload = Webhook(SECRET).verify(request.content, dict(request.headers))
        assert request.headers["webhook-id"] == "A-1.order-shipped.1.webhook"
        received.append(payload)
        return httpx.Response(204)

    outbound = message("webhook", notification_id="A-1.order-shipped.1.webhook", recipient="https://shop.test/hook")
    outbound = outbound.model_copy(update={"html": "<p>Shipped</p>"})
    delivery = await hook(handle).send(outbound)
    assert delivery.accepted and delivery.channel == "webhook"
    [event] = received
    assert event["type"] == "notification.requested"
    assert event["data"] == {
        "notification_id": "A-1.order-shipped.1.webhook",
        "order_id": "A-1",
        "event": "order-shipped",
        "locale": "fr",
        "recipient": {"email": None, "phone": None},
        "subject": "Your order A-1 has shipped",
        "text": outbound.text,
        "html": "<p>Shipped</p>",
        "sms": None,
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ConfigurationError),
        (403, ConfigurationError),
        (410, BusinessRejection),
        (422, BusinessRejection),
        (429, RateLimitedError),
        (500, IndeterminateError),
        (409, TransientError),
    ],
)
async def test_webhook_error_mapping(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        await hook(lambda _: httpx.Response(status)).send(message("webhook", recipient="https://shop.test/hook"))


# -- the router ----------------------------------------------------------------------------------------------------


class Recording:
    def __init__(self, channel: str, refuse: Exception | None = None) -> None:
        self.channel = channel
        self.refuse = refuse
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> Delivery:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append(message)
        return Delivery(notification_id=message.notification_id, channel=self.channel, accepted=True)


def email_message(event: str = "order-shipped") -> OutboundMessage:
    return message("email", notification_id="A-1.order-shipped.1", recipient="ada@example.com", event=event)


async def test_router_honours_per_event_channels_and_distinct_ids() -> None:
    email, sms = Recording("email"), Recording("sms")
    router = ChannelRouter(email=email, sms=sms, channels=["email"], per_event={"order-shipped": ["email", "sms"]})

    shipped = await router.dispatch(email_message("order-shipped"), phone=PHONE)
    assert [(m.channel, m.recipient, m.notification_id) for m in email.sent + sms.sent] == [
        ("email", "ada@example.com", "A-1.order-shipped.1"),
        ("sms", PHONE, "A-1.order-shipped.1.sms"),
    ]
    assert (shipped.channel, shipped.notification_id) == ("email", "A-1.order-shipped.1")
    assert [(d.channel, d.accepted) for d in shipped.channels] == [("email", True), ("sms", True)]

    await router.dispatch(email_message("order-confirmed"), phone=PHONE)
    assert len(sms.sent) == 1  # not configured for that event
    assert len(email.sent) == 2


async def test_a_customer_who_chose_their_channels_gets_those_the_hub_can_send_on() -> None:
    email, sms = Recording("email"), Recording("sms")
    router = ChannelRouter(email=email, sms=sms, channels=["email"], per_event={"order-shipped": ["email", "sms"]})

    texted = await router.dispatch(email_message("order-shipped"), phone=PHONE, preferred=["sms"])
    assert [d.channel for d in texted.channels] == ["sms"] and email.sent == []  # their choice replaces the event's
    email_only = ChannelRouter(email=email, channels=["email"])
    fallback = await email_only.dispatch(email_message("order-confirmed"), phone=PHONE, preferred=["sms", "webhook"])
    assert [d.channel for d in fallback.channels] == ["email"]  # nothing they chose is set up here: email


async def test_router_skips_sms_without_a_phone_and_falls_back_to_email() -> None:
    email, sms = Recording("email"), Recording("sms")
    router = ChannelRouter(email=email, sms=sms, channels=["email", "sms"], per_event={"order-delayed": ["sms"]})

    both = await router.dispatch(email_message("order-shipped"), phone=None)
    assert [(d.channel, d.accepted, d.reason) for d in both.channels] == [
        ("email", True, None),
        ("sms", False, "no_phone"),
    ]
    assert sms.sent == []

    sms_only = await router.dispatch(email_message("order-delayed"), phone=None)
    assert sms_only.channel == "email"  # nobody is left without the message
    assert [(d.channel, d.reason) for d in sms_only.channels] == [("sms", "no_phone"), ("email", None)]


async def test_router_records_a_refusing_channel_and_raises_only_when_none_accepted() -> None:
    invalid = BusinessRejection("sms: Twilio 21211", upstream="sms", code="invalid_phone_number")
    email, sms = Recording("email"), Recording("sms", refuse=invalid)
    router = ChannelRouter(email=email, sms=sms, channels=["email", "sms"])
    delivery = await router.dispatch(email_message(), phone=PHONE)
    assert [(d.channel, d.accepted, d.reason) for d in delivery.channels] == [
        ("email", True, None),
        ("sms", False, "invalid_phone_number"),
    ]
    alone = ChannelRouter(email=email, sms=sms, channels=["sms"])
    with pytest.raises(BusinessRejection):
        await alone.dispatch(email_message(), phone=PHONE)
    flaky = ChannelRouter(
        email=email, sms=Recording("sms", refuse=TransientError("x", upstream="sms")), channels=["email", "sms"]
    )
    with pytest.raises(TransientError):  # retried as a whole: every channel dedupes
        await flaky.dispatch(email_message(), phone=PHONE)


async def test_router_webhook_gets_the_endpoint_and_the_contacts() -> None:
    bodies: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://shop.test/hook"
        Webhook(SECRET).verify(request.content, dict(request.headers))
        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    router = ChannelRouter(
        email=Recording("email"), webhook=hook(handle), webhook_url="https://shop.test/hook", channels=["webhook"]
    )
    delivery = await router.dispatch(email_message(), phone=PHONE)
    assert (delivery.channel, delivery.notification_id) == ("webhook", "A-1.order-shipped.1.webhook")
    data = bodies[0]["data"]
    assert isinstance(data, dict)
    assert data["recipient"] == {"email": "ada@example.com", "phone": PHONE}
    assert data["notification_id"] == "A-1.order-shipped.1.webhook"


def test_settings_require_what_a_configured_channel_needs() -> None:
    assert NotificationSettings().channels == ["email"]
    with pytest.raises(ValueError, match="webhook"):
        NotificationSettings(events={"order-shipped": ["webhook"]})
    with pytest.raises(ValueError, match="sms"):
        NotificationSettings.model_validate({"channels": ["sms"], "sms": {"from_number": None}})
    with pytest.raises(ValueError):
        ChannelRouter(email=Recording("email"), channels=["sms"])


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.runtime.settings import Settings

    monkeypatch.setenv("HUB_NOTIFICATIONS__EVENTS", '{"order-shipped": ["email", "sms"]}')
    monkeypatch.setenv("HUB_NOTIFICATIONS__SMS__FROM_NUMBER", "+15005550006")
    monkeypatch.setenv("HUB_NOTIFICATIONS__SMS__AUTH_TOKEN", "tok")
    settings = Settings()
    assert settings.notifications.events == {"order-shipped": ["email", "sms"]}
    assert settings.notifications.sms.auth_token.get_secret_value() == "tok"
