"""Typed settings, built once from the environment (``HUB_`` prefix, ``__`` for nesting) and passed down.

``HUB_PAYMENT__BASE_URL=https://api.stripe.com HUB_PAYMENT__API_KEY=sk_live_… python worker.py`` points the
same code that runs in the demo at production. Defaults point at the local sandbox.
"""

import base64
import binascii
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    SerializationInfo,
    TypeAdapter,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.backorder import BackorderChoice
from domain.notification import MessageChannel
from domain.order import Address
from domain.order_view import OrderPolicy, UndeliveredParcel
from domain.returns import ReturnPolicy

SANDBOX = "http://127.0.0.1:8100"


class EncryptionKey(BaseModel):
    """An AES-256-GCM key for payloads: its id (written next to every payload it encrypts) and the key,
    base64 of 32 random bytes (``python -c "import os, base64; print(base64.b64encode(os.urandom(32)).decode())"``)."""

    id: str
    key: SecretStr

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an encryption key needs a non-empty id")
        return value

    @field_validator("key")
    @classmethod
    def _aes_256(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value().strip(), validate=True)
        except binascii.Error:
            raise ValueError("an encryption key must be base64") from None
        if len(raw) != 32:
            raise ValueError(f"an encryption key must be 32 bytes (AES-256), this one is {len(raw)}")
        return value

    @field_serializer("key", when_used="json")
    def _revealed_only_for_env(self, value: SecretStr, info: SerializationInfo) -> str:
        # ``to_env`` hands keys to the processes it configures; every other dump keeps them masked.
        return value.get_secret_value() if (info.context or {}).get("reveal_secrets") else str(value)


class TemporalSettings(BaseModel):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "orders"
    connect_timeout_s: float = 60.0
    encryption_keys: list[EncryptionKey] = []
    """Payload encryption keys, newest last (``HUB_TEMPORAL__ENCRYPTION_KEYS='[{"id": "2026-11", "key": "…"}]'``).
    New payloads are encrypted with the newest; any listed key decrypts. None (and no files): no encryption."""
    encryption_key_files: list[Path] = []
    """Secret files, each holding one base64 key, named by its id (``/run/secrets/hub-keys/2026-11``); they
    come after ``encryption_keys``, so the last file is the newest key."""
    api_key: SecretStr | None = None
    """Temporal Cloud API key (``HUB_TEMPORAL__API_KEY``): the connection then uses TLS."""
    tls_cert_file: Path | None = None
    """mTLS client certificate (PEM), for Temporal Cloud or a self-hosted cluster that requires it."""
    tls_key_file: Path | None = None
    tls_server_ca_file: Path | None = None
    """The server's CA (PEM), when it is not a public one (self-hosted)."""

    @model_validator(mode="after")
    def _tls_pair(self) -> "TemporalSettings":
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self


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
    scopes: list[Literal["orders:read", "orders:write", "codec:decode"]]
    """``codec:decode``: may decrypt payloads through the codec server (``/codec/decode``)."""


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
    codec_cors_origin: str | None = None
    """The Temporal Web UI's origin (``http://localhost:8233``): the only origin whose browser pages may call
    ``/codec/decode`` and ``/codec/encode``."""


class OrderSettings(BaseModel):
    """The retailer's order rules (``HUB_ORDERS__…``); see :class:`OrderPolicy` for what each one means."""

    tracking_poll_interval: timedelta = timedelta(hours=6)
    delivery_deadline: timedelta = timedelta(days=30)
    undelivered_parcel: UndeliveredParcel = UndeliveredParcel.REFUND
    backorder_decision_timeout: timedelta = timedelta(hours=48)
    backorder_default: BackorderChoice = BackorderChoice.SHIP_AVAILABLE
    backorder_decision_url: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None
    """``HUB_ORDERS__BACKORDER_DECISION_URL=https://shop.example/orders/{order_id}/backorder``."""
    backorder_recheck_interval: timedelta = timedelta(hours=12)
    backorder_max_wait: timedelta = timedelta(days=120)
    authorization_validity: timedelta = timedelta(days=6)
    status_events_overdue_after: timedelta = timedelta(days=3)
    returns: ReturnPolicy = ReturnPolicy()
    """Return window, reminders, expiry, damaged-item refunds and the claim approval limit
    (``HUB_ORDERS__RETURNS__WINDOW=P14D``)."""

    def policy(self, events: EventSettings) -> OrderPolicy:
        return OrderPolicy(**self.model_dump(), publish_status_events=bool(events.subscribers))


class WorkerSettings(BaseModel):
    """How ``python worker.py`` runs (``HUB_WORKER__…``)."""

    graceful_shutdown_timeout: timedelta = timedelta(seconds=25)
    """On SIGTERM (a deploy, a scale-down) the worker stops taking tasks and lets the activities it is running
    finish for up to this long before cancelling them (a cancelled call is retried elsewhere, but a payment or a
    label half-done costs a reconciliation). Keep it below the orchestrator's kill delay: Kubernetes'
    ``terminationGracePeriodSeconds`` (30 s by default), the compose file's ``stop_grace_period``."""


class MetricsSettings(BaseModel):
    """Prometheus metrics (``HUB_METRICS__…``), off unless a bind address is set.

    The worker serves the Temporal SDK's own metrics and the hub's counters (``hub_orders_finished``,
    ``hub_compensations``, ``hub_connector_errors``) on ``bind_address``; the API serves its counters
    (``hub_api_requests``) on ``api_bind_address``. Two processes cannot share a port, hence two settings."""

    bind_address: str | None = None
    """``host:port`` for the worker's ``/metrics``, e.g. ``0.0.0.0:9464``."""
    api_bind_address: str | None = None
    """``host:port`` for the API's ``/metrics``."""


class TracingSettings(BaseModel):
    """OpenTelemetry tracing of client calls, workflows and activities (``HUB_TRACING__…``), off by default."""

    exporter: Literal["otlp", "console"] | None = None
    endpoint: str | None = None
    """OTLP over HTTP, e.g. ``http://collector:4318/v1/traces``; unset: the exporter's default
    (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``http://localhost:4318/v1/traces``)."""
    service_name: str = "order-hub"


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
    worker: WorkerSettings = WorkerSettings()
    metrics: MetricsSettings = MetricsSettings()
    tracing: TracingSettings = TracingSettings()
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
            dumped = TypeAdapter(type(value)).dump_python(value, mode="json", context={"reveal_secrets": True})
            env[key] = dumped if isinstance(dumped, str) else json.dumps(dumped)
    return env
