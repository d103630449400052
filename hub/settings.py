"""Typed settings, built once from the environment (``HUB_`` prefix, ``__`` for nesting) and passed down.

``HUB_PAYMENT__BASE_URL=https://api.stripe.com HUB_PAYMENT__API_KEY=sk_live_… python worker.py`` points the
same code that runs in the demo at production. Defaults point at the local sandbox.
"""

import json
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, SecretStr, TypeAdapter, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.backorder import BackorderChoice
from domain.notification import MessageChannel
from domain.order import Address
from domain.order_view import OrderPolicy
from domain.returns import ReturnPolicy

SANDBOX = "http://127.0.0.1:8100"


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "orders"
    connect_timeout_s: float = 60.0


class HttpUpstream(BaseModel):
    base_url: str
    api_key: SecretStr
    timeout_s: float = 10.0
    """Per request; an answer slower than this is treated as lost (indeterminate for a mutation)."""


class PaymentSettings(HttpUpstream):
    provider: Literal["stripe"] = "stripe"
    base_url: str = SANDBOX
    api_key: SecretStr = SecretStr("sk_test_sandbox")


class CarrierSettings(HttpUpstream):
    provider: Literal["easypost"] = "easypost"
    base_url: str = f"{SANDBOX}/v2"
    api_key: SecretStr = SecretStr("EZTK_sandbox")
    ship_from_name: str = "Order Hub Warehouse"
    ship_from: Address = Address(line1="1 Depot Road", city="Lyon", postal_code="69007", country="FR")


class ErpSettings(HttpUpstream):
    provider: Literal["rest-holds"] = "rest-holds"
    base_url: str = f"{SANDBOX}/erp"
    api_key: SecretStr = SecretStr("erp_sandbox_token")


class EmailSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 2525
    sender: str = "Order Hub <orders@hub.example>"
    message_id_domain: str = "hub.example"
    username: str | None = None
    password: SecretStr | None = None
    start_tls: bool = False
    timeout_s: float = 10.0


class SmsSettings(BaseModel):
    """Twilio, or anything speaking its Messages API (``HUB_NOTIFICATIONS__SMS__…``)."""

    base_url: str = SANDBOX
    """``https://api.twilio.com`` in production."""
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token: SecretStr = SecretStr("twilio_sandbox_token")
    from_number: str | None = "+15005550006"
    """The sender: an E.164 number (or an alphanumeric sender id) of the account."""
    messaging_service_sid: str | None = None
    """``MG…``; used instead of ``from_number`` when set."""
    timeout_s: float = 10.0


class MessageWebhookSettings(BaseModel):
    """The retailer's endpoint for ``channel="webhook"`` messages (``HUB_NOTIFICATIONS__WEBHOOK__…``)."""

    url: str | None = None
    secret: SecretStr | None = None
    """``whsec_<base64>``: the receiver verifies ``webhook-signature`` with it."""
    timeout_s: float = 10.0


class NotificationSettings(BaseModel):
    """Which channels carry customer notices (``HUB_NOTIFICATIONS__…``): ``channels`` by default, ``events``
    per notice kind (``HUB_NOTIFICATIONS__EVENTS='{"order-shipped": ["email", "sms"]}'``). A customer without
    a phone gets no SMS; a notice whose every channel is skipped goes by email."""

    channels: list[MessageChannel] = ["email"]
    events: dict[str, list[MessageChannel]] = {}
    sms: SmsSettings = SmsSettings()
    webhook: MessageWebhookSettings = MessageWebhookSettings()

    def used(self) -> set[MessageChannel]:
        return set(self.channels).union(*self.events.values())

    @model_validator(mode="after")
    def _configured_when_used(self) -> "NotificationSettings":
        if not self.channels or any(not chosen for chosen in self.events.values()):
            raise ValueError("notifications: every event needs at least one channel")
        used = self.used()
        if "sms" in used and not (self.sms.from_number or self.sms.messaging_service_sid):
            raise ValueError("notifications.sms.from_number or messaging_service_sid is required for sms")
        if "webhook" in used and (not self.webhook.url or self.webhook.secret is None):
            raise ValueError("notifications.webhook.url and .secret are required for the webhook channel")
        return self


class EventSettings(BaseModel):
    """Where order status events go: the retailer's backends, as signed Standard Webhooks."""

    subscribers: list[str] = []
    secret: SecretStr | None = None
    """``whsec_<base64>``: subscribers verify ``webhook-signature`` with it."""
    timeout_s: float = 10.0

    @model_validator(mode="after")
    def _secret_when_subscribed(self) -> "EventSettings":
        if self.subscribers and self.secret is None:
            raise ValueError("events.secret is required when events.subscribers is set")
        return self


class ApiKey(BaseModel):
    """A backend's key, stored only as its SHA-256 (``python -m api.keys hash KEY`` prints it)."""

    id: str
    sha256: str
    scopes: list[Literal["orders:read", "orders:write"]]


class WebhookSecrets(BaseModel):
    erp: SecretStr | None = None
    """Standard Webhooks secret, ``whsec_<base64>``."""
    carrier: SecretStr | None = None
    """EasyPost webhook secret."""
    payment: SecretStr | None = None
    """Stripe endpoint secret, ``whsec_…``."""


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    keys: list[ApiKey] = []
    webhooks: WebhookSecrets = WebhookSecrets()
    max_body_bytes: int = 1024 * 1024


class OrderSettings(BaseModel):
    """The retailer's order rules (``HUB_ORDERS__…``); see :class:`OrderPolicy` for what each one means."""

    tracking_poll_interval: timedelta = timedelta(hours=6)
    delivery_deadline: timedelta = timedelta(days=30)
    backorder_decision_timeout: timedelta = timedelta(hours=48)
    backorder_default: BackorderChoice = BackorderChoice.SHIP_AVAILABLE
    backorder_recheck_interval: timedelta = timedelta(hours=12)
    backorder_max_wait: timedelta = timedelta(days=120)
    authorization_validity: timedelta = timedelta(days=6)
    returns: ReturnPolicy = ReturnPolicy()
    """Return window, reminders, expiry, damaged-item refunds and the claim approval limit
    (``HUB_ORDERS__RETURNS__WINDOW=P14D``)."""

    def policy(self, events: EventSettings) -> OrderPolicy:
        return OrderPolicy(**self.model_dump(), publish_status_events=bool(events.subscribers))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="ignore")

    temporal: TemporalSettings = TemporalSettings()
    payment: PaymentSettings = PaymentSettings()
    carrier: CarrierSettings = CarrierSettings()
    erp: ErpSettings = ErpSettings()
    email: EmailSettings = EmailSettings()
    orders: OrderSettings = OrderSettings()
    events: EventSettings = EventSettings()
    notifications: NotificationSettings = NotificationSettings()
    api: ApiSettings = ApiSettings()
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"


def to_env(model: BaseModel, prefix: str = "HUB_") -> dict[str, str]:
    """The environment variables that configure a process to these settings (secrets revealed): how the stack
    and the tests hand settings to the worker and API processes they start."""
    env: dict[str, str] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}{name.upper()}"
        if value is None:
            continue
        if isinstance(value, SecretStr):
            env[key] = value.get_secret_value()
        elif isinstance(value, BaseModel) and not isinstance(value, Address):
            env |= to_env(value, f"{key}__")
        else:
            dumped = TypeAdapter(type(value)).dump_python(value, mode="json")
            env[key] = dumped if isinstance(dumped, str) else json.dumps(dumped)
    return env
