"""The official ``twilio`` client, unmodified, against the sandbox's Twilio Messages subset; and the wire
details the hub's adapter relies on (auth, errors, faults, the inspection endpoint)."""

import base64
import uuid
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from sandbox.process import SandboxProcess
from tests.sandbox.conftest import ReadLedger, SetFaults

ACCOUNT = "AC" + "0123456789abcdef" * 2
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
SENDER = "+15005550006"


def a_phone() -> str:
    """A valid E.164 number no other test texts (the list is filtered by ``To``)."""
    return "+3361" + str(uuid.uuid4().int)[:8]


@pytest.fixture
def client(sandbox: SandboxProcess) -> Client:
    twilio = Client(ACCOUNT, "sandbox-token")
    twilio.api.base_url = sandbox.base_url  # the only change: where api.twilio.com is
    return twilio


def auth(account: str = ACCOUNT, token: str = "sandbox-token") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()}


def test_official_client_creates_fetches_and_lists(client: Client) -> None:
    to = a_phone()
    created = client.messages.create(to=to, from_=SENDER, body="Your order A-1 has shipped.")
    assert created.sid is not None and created.sid.startswith("SM") and len(created.sid) == 34
    assert (created.status, created.to, created.from_, created.direction) == ("queued", to, SENDER, "outbound-api")
    assert created.account_sid == ACCOUNT

    fetched = client.messages(created.sid).fetch()
    assert (fetched.sid, fetched.body, fetched.status) == (created.sid, "Your order A-1 has shipped.", "delivered")
    assert fetched.date_sent is not None

    second = client.messages.create(to=to, messaging_service_sid="MG" + "0" * 32, body="Second")
    assert second.status == "accepted"
    listed = client.messages.list(to=to, page_size=1)
    # Newest first, across pages: the client followed next_page_uri.
    assert [m.sid for m in listed] == [second.sid, created.sid]


def test_official_client_sees_twilio_errors(client: Client) -> None:
    with pytest.raises(TwilioRestException) as invalid:
        client.messages.create(to="0612345678", from_=SENDER, body="hello")
    assert (invalid.value.status, invalid.value.code) == (400, 21211)
    with pytest.raises(TwilioRestException) as stop:
        client.messages.create(to="+15005550004", from_=SENDER, body="hello")
    assert stop.value.code == 21610
    with pytest.raises(TwilioRestException) as unknown:
        client.messages("SM" + "0" * 32).fetch()
    assert (unknown.value.status, unknown.value.code) == (404, 20404)


async def test_auth_is_basic_with_the_account_in_the_path(http: httpx.AsyncClient) -> None:
    form = {"To": a_phone(), "From": SENDER, "Body": "hi"}
    missing = await http.post(MESSAGES, data=form)
    assert (missing.status_code, missing.json()["code"]) == (401, 20003)
    other = await http.post(MESSAGES, data=form, headers=auth(account="AC" + "f" * 32))
    assert other.status_code == 403
    assert (await http.post(MESSAGES, data=form, headers=auth())).status_code == 201


async def test_messages_are_recorded_per_order_and_never_deduplicated(
    http: httpx.AsyncClient, order_id: str, ledger: ReadLedger
) -> None:
    form = {"To": a_phone(), "From": SENDER, "Body": "Shipped. Ref 0123456789"}
    headers = {**auth(), "X-Hub-Order-Id": order_id}
    first = await http.post(MESSAGES, data=form, headers=headers)
    again = await http.post(MESSAGES, data=form, headers=headers)
    assert first.json()["sid"] != again.json()["sid"]  # Twilio has no idempotency key: a re-send is a second SMS
    sms: list[dict[str, Any]] = (await http.get("/_sandbox/sms", params={"order_id": order_id})).json()
    assert [m["sid"] for m in sms] == [first.json()["sid"], again.json()["sid"]]
    assert sms[0]["body"] == "Shipped. Ref 0123456789" and sms[0]["order_id"] == order_id
    view = await ledger(order_id)
    assert view["sms"] == {"sent": 2}
    assert [(e["upstream"], e["effect"], e["ref"]) for e in view["effects"]] == [
        ("sms", "send", first.json()["sid"]),
        ("sms", "send", again.json()["sid"]),
    ]


async def test_sms_faults_transient_reject_and_timeout_after_apply(
    http: httpx.AsyncClient, order_id: str, set_faults: SetFaults, sandbox: SandboxProcess
) -> None:
    headers = {**auth(), "X-Hub-Order-Id": order_id}
    await set_faults({"upstream": "sms", "operation": "send", "order_prefix": order_id, "error_rate": 1.0})
    failed = await http.post(MESSAGES, data={"To": a_phone(), "From": SENDER, "Body": "x"}, headers=headers)
    assert failed.status_code in (500, 502, 503, 429)
    assert failed.json()["code"] in (20500, 20429)

    await set_faults({"upstream": "sms", "order_prefix": order_id, "reject": {"code": "30007", "message": "Blocked"}})
    rejected = await http.post(MESSAGES, data={"To": a_phone(), "From": SENDER, "Body": "x"}, headers=headers)
    assert (rejected.status_code, rejected.json()["code"]) == (400, 30007)

    await set_faults({"upstream": "sms", "order_prefix": order_id, "timeout_after_apply_rate": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        await http.post(MESSAGES, data={"To": a_phone(), "From": SENDER, "Body": "y"}, headers=headers, timeout=0.5)
    # The message went out although the answer was lost.
    assert len((await http.get("/_sandbox/sms", params={"order_id": order_id})).json()) == 1

    invalid = await http.put("/_sandbox/faults", json={"rules": [{"upstream": "sms", "operation": "authorize"}]})
    assert invalid.status_code == 422
