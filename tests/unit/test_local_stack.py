"""``make run``'s settings and access, without starting it: the retailer's settings come from the environment as
the README documents them, the stack sets only the connections to its own processes, and the access file holds
this run's key and secrets, for its owner only, in a form a shell reads."""

import os
import shlex
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from domain.backorder import BackorderChoice
from hub.dev.access import (
    access_env,
    demo_access,
    read_access_file,
    secret_variable,
    webhook_command,
    write_access_file,
)
from hub.dev.stack import DEMO_TRACKING_POLL, StackSettings, stack_hub_settings
from hub.runtime.settings import OrderSettings, to_env
from sandbox.process import SandboxProcess

STACK = StackSettings(host="127.0.0.1", temporal_port=17233, ui_port=18233, api_port=18000, task_queue="orders-x")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


def _sandbox() -> SandboxProcess:
    """Where a started sandbox would be; nothing is started."""
    sandbox = SandboxProcess()
    sandbox.http_port, sandbox.smtp_port = 18100, 12525
    return sandbox


def test_the_stack_honours_the_retailers_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    documented = {
        "HUB_ORDERS__BACKORDER_DEFAULT": "wait_for_all",
        "HUB_ORDERS__BACKORDER_DECISION_TIMEOUT": "P1D",
        "HUB_ORDERS__AUTHORIZATION_VALIDITY": "P5D",
        "HUB_ORDERS__RETURNS__WINDOW": "P14D",
        "HUB_ORDERS__RETURNS__CLAIM_APPROVAL_LIMIT": "5000",
        "HUB_NOTIFICATIONS__EVENTS": '{"order-shipped": ["email", "sms"]}',
        "HUB_NOTIFICATIONS__SMS__FROM_NUMBER": "+15005550007",
    }
    for name, value in documented.items():
        monkeypatch.setenv(name, value)
    hub = stack_hub_settings(STACK, _sandbox(), demo_access(), [])

    assert hub.orders.backorder_default is BackorderChoice.WAIT_FOR_ALL
    assert hub.orders.backorder_decision_timeout == timedelta(days=1)
    assert hub.orders.authorization_validity == timedelta(days=5)
    assert hub.orders.returns.window == timedelta(days=14)
    assert hub.orders.returns.claim_approval_limit == 5000
    assert hub.notifications.events == {"order-shipped": ["email", "sms"]}
    assert hub.notifications.sms.from_number == "+15005550007"
    assert hub.orders.tracking_poll_interval == DEMO_TRACKING_POLL  # not set: the stack's short fallback poll
    # What the worker and the API are started with says the same.
    env = to_env(hub)
    assert env["HUB_ORDERS__BACKORDER_DEFAULT"] == "wait_for_all"
    assert env["HUB_NOTIFICATIONS__EVENTS"] == '{"order-shipped": ["email", "sms"]}'


def test_the_users_tracking_poll_wins_over_the_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ORDERS__TRACKING_POLL_INTERVAL", "PT5M")
    assert stack_hub_settings(STACK, _sandbox(), demo_access(), []).orders.tracking_poll_interval == timedelta(
        minutes=5
    )


def test_without_settings_the_stack_runs_the_defaults_with_its_short_poll() -> None:
    hub = stack_hub_settings(STACK, _sandbox(), demo_access(), [])
    assert hub.orders == OrderSettings(tracking_poll_interval=DEMO_TRACKING_POLL)
    assert hub.notifications.channels == ["email"] and hub.notifications.events == {}


def test_the_stack_keeps_its_own_connections_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = {
        "HUB_TEMPORAL__ADDRESS": "temporal.internal:7233",
        "HUB_PAYMENT__BASE_URL": "https://api.stripe.com",
        "HUB_CARRIER__BASE_URL": "https://api.easypost.com/v2",
        "HUB_ERP__BASE_URL": "https://erp.example.com/hub",
        "HUB_EMAIL__HOST": "smtp.example.com",
        "HUB_NOTIFICATIONS__SMS__BASE_URL": "https://api.twilio.com",
        "HUB_NOTIFICATIONS__SMS__ACCOUNT_SID": "AC" + "1" * 32,
        "HUB_API__WEBHOOKS__ERP": "whsec_" + "A" * 32,
        "HUB_API__PORT": "9999",
    }
    for name, value in elsewhere.items():
        monkeypatch.setenv(name, value)
    access, sandbox, keys = demo_access(), _sandbox(), [tmp_path / "demo-1"]
    hub = stack_hub_settings(STACK, sandbox, access, keys)

    assert (hub.temporal.address, hub.temporal.task_queue) == ("127.0.0.1:17233", "orders-x")
    assert hub.temporal.encryption_key_files == keys
    assert hub.payment.base_url == sandbox.base_url and hub.carrier.base_url == f"{sandbox.base_url}/v2"
    assert hub.erp.base_url == f"{sandbox.base_url}/erp"
    assert (hub.email.host, hub.email.port) == ("127.0.0.1", 12525)
    assert hub.notifications.sms.base_url == sandbox.base_url
    assert hub.notifications.sms.account_sid != elsewhere["HUB_NOTIFICATIONS__SMS__ACCOUNT_SID"]
    # This run's secrets, never the environment's: nobody signs a webhook against the stack without being told.
    assert hub.api.webhooks == access.secrets and hub.api.port == 18000
    assert hub.api.codec_cors_origin == "http://localhost:18233"


def test_the_access_file_is_its_owners_only_and_a_shell_reads_it(tmp_path: Path) -> None:
    access = demo_access()
    env = access_env(access, "http://127.0.0.1:18000")
    assert env["HUB_API_KEY"] == access.api_key
    assert access.secrets.erp is not None and env[secret_variable("erp")] == access.secrets.erp.get_secret_value()
    path = tmp_path / "data" / "access.env"
    path.parent.mkdir()
    path.write_text("HUB_API_KEY=an-earlier-run\n")
    path.chmod(0o644)

    write_access_file(path, env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_access_file(path) == env
    names = " ".join(f'"${name}"' for name in env)
    sourced = subprocess.run(
        ["sh", "-c", f'set -a; . "$1"; set +a; printf "%s\\n" {names}', "sh", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert sourced.stdout.splitlines() == list(env.values())


def test_the_printed_webhook_line_is_one_shell_command() -> None:
    secret = "whsec_ab+/cd=="
    line = webhook_command(Path(".venv/bin/hub"), "http://127.0.0.1:18000", Path("/tmp/a dir/erp.json"), secret)
    assert shlex.split(line) == [
        ".venv/bin/hub",
        "--api-url",
        "http://127.0.0.1:18000",
        "webhook",
        "send",
        "erp",
        "/tmp/a dir/erp.json",
        "--secret",
        secret,
    ]
