"""Customer messages handed to a retailer that sends them itself: the notify activity, through the production
composition (``open_upstreams``), POSTs to a real HTTP endpoint that verifies each request with the official
``standardwebhooks`` library, as the retailer's would; a failed answer is retried under the same id."""

import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activities.notifications import NotificationActivities
from connectors.errors import ConfigurationError, IndeterminateError
from domain.order import Customer
from hub.runtime.settings import MessageWebhookSettings, Settings
from hub.runtime.upstreams import open_upstreams
from notifications.notice import CustomerNotice, NoticeKind, TrackingLink
from sandbox.process import SandboxProcess
from tests.integration.conftest import hub_settings
from tests.servers import serving


@dataclass
class RetailerEndpoint:
    """The retailer's receiving side: verifies, dedupes by ``webhook-id``, answers what it is told to."""

    secret: str
    url: str = ""
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: list[str] = field(default_factory=list)
    refused_signatures: int = 0
    answers: list[int] = field(default_factory=list)
    """Statuses to answer first, one per request, before the normal 204."""

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused_signatures += 1
            return Response(status_code=401)
        message_id = request.headers["webhook-id"]
        self.posts.append(message_id)
        if self.answers:
            return Response(status_code=self.answers.pop(0))
        self.accepted.setdefault(message_id, payload)  # a repeat of an id is acknowledged, not processed twice
        return Response(status_code=204)


@pytest.fixture
async def endpoint() -> AsyncIterator[RetailerEndpoint]:
    retailer = RetailerEndpoint(secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    async with serving(Starlette(routes=[Route("/messages", retailer.receive, methods=["POST"])])) as url:
        retailer.url = f"{url}/messages"
        yield retailer


def settings(sandbox: SandboxProcess, retailer: RetailerEndpoint, secret: str | None = None) -> Settings:
    hub = hub_settings(sandbox)
    webhook = MessageWebhookSettings.model_validate({"url": retailer.url, "secret": secret or retailer.secret})
    notifications = hub.notifications.model_copy(update={"channels": ["webhook"], "webhook": webhook})
    return hub.model_copy(update={"notifications": notifications})


def shipped(order_id: str) -> CustomerNotice:
    return CustomerNotice(
        order_id=order_id,
        kind=NoticeKind.ORDER_SHIPPED,
        customer=Customer(id="C-7", email="ada@example.com", name="Ada", phone="+33612345678", locale="fr-FR"),
        currency="EUR",
        total=12900,
        tracking=[TrackingLink(carrier="USPS", tracking_code="EZ1000000001", url="https://track.example/EZ1")],
    )


async def test_the_retailer_gets_one_verified_message_with_every_part_despite_a_failed_answer(
    sandbox: SandboxProcess, endpoint: RetailerEndpoint
) -> None:
    order_id = f"HOOK-{uuid.uuid4().hex[:10]}"
    endpoint.answers = [503]
    async with open_upstreams(settings(sandbox, endpoint)) as upstreams:
        notify = NotificationActivities(upstreams.notifier).notify
        with pytest.raises(IndeterminateError):
            await notify(shipped(order_id))
        delivery = await notify(shipped(order_id))  # as Temporal retries the activity

    message_id = f"{order_id}.order-shipped.1.webhook"
    assert (delivery.channel, delivery.notification_id, delivery.accepted) == ("webhook", message_id, True)
    assert endpoint.posts == [message_id, message_id] and endpoint.refused_signatures == 0
    event = endpoint.accepted[message_id]
    assert event["type"] == "notification.requested"
    data = event["data"]
    assert (data["order_id"], data["event"], data["locale"]) == (order_id, "order-shipped", "fr-FR")
    assert data["recipient"] == {"email": "ada@example.com", "phone": "+33612345678"}
    assert data["subject"] == f"Votre commande {order_id} est expédiée"
    assert data["text"].startswith("Bonjour Ada,") and "https://track.example/EZ1" in data["text"]
    assert "https://track.example/EZ1" in data["html"] and data["html"].lstrip().startswith("<!DOCTYPE html>")
    assert data["sms"] == f"Commande {order_id} expédiée, 129,00\u00a0€ débités. Suivi : https://track.example/EZ1"


async def test_a_retailer_that_cannot_verify_the_signature_is_a_configuration_error_not_a_message_sent(
    sandbox: SandboxProcess, endpoint: RetailerEndpoint
) -> None:
    wrong = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    async with open_upstreams(settings(sandbox, endpoint, secret=wrong)) as upstreams:
        with pytest.raises(ConfigurationError) as refused:
            await NotificationActivities(upstreams.notifier).notify(shipped(f"HOOK-{uuid.uuid4().hex[:10]}"))
    assert endpoint.refused_signatures == 1 and endpoint.accepted == {} and endpoint.posts == []
    assert "message_webhook" in str(refused.value) and "401" in str(refused.value)
