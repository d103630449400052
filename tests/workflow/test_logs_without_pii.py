"""What the worker logs, with the production log configuration: JSON lines that say which order, workflow and
activity they are about, and never the customer's email, name, street or phone."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow

from domain.status import OrderStatus
from hub.runtime.logging import configure_logging
from tests.orders import make_order, view_when
from tests.workflow.conftest import FakeHub

CUSTOMER = {"id": "C-PII", "email": "zoe.quill@example.com", "name": "Zoé Quillard", "phone": "+33612345678"}
ADDRESS = {"line1": "17 impasse des Glycines", "city": "Lyon", "postal_code": "69003", "country": "FR"}
PII = [CUSTOMER["email"], CUSTOMER["name"], "Quillard", CUSTOMER["phone"], "612345678", ADDRESS["line1"], "Glycines"]


@pytest.fixture
def worker_logs() -> Iterator[io.StringIO]:
    """The worker's logging as ``python worker.py`` configures it (JSON, DEBUG), written to a buffer; the
    process's previous configuration is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    on_message = workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message
    configure_logging("json", "DEBUG")
    # Loggers first used now must not keep this configuration after the test.
    structlog.configure(cache_logger_on_first_use=False)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = on_message
        structlog.reset_defaults()


async def test_worker_logs_are_json_with_order_context_and_no_pii(fake_hub: FakeHub, worker_logs: io.StringIO) -> None:
    happy = make_order(customer=CUSTOMER, shipping_address=ADDRESS)
    fake_hub.effects.flaky["authorize"] = 1  # one retried attempt: a connector error line
    assert (await (await fake_hub.orders.place(happy)).handle.result()).status is OrderStatus.COMPLETED

    # A refused capture whose label cannot be voided: activity failures, the saga's workflow.logger line.
    fake_hub.effects.reject["capture"] = "charge_expired_for_capture"
    fake_hub.effects.reject["void_label"] = "SHIPMENT.REFUND.REJECTED"
    unhappy = make_order(customer=CUSTOMER, shipping_address=ADDRESS)
    await fake_hub.orders.place(unhappy)
    told = f"{unhappy.order_id}.order-canceled.1"
    stuck = await view_when(fake_hub.orders, unhappy.order_id, lambda v: told in v.messages_sent, what="undone")
    assert stuck.status is OrderStatus.REQUIRES_ACTION
    # A call that passes customer data by mistake is redacted.
    structlog.get_logger("test").warning("careless", email=CUSTOMER["email"], shipping_address=ADDRESS)

    text = worker_logs.getvalue()
    for value in PII:
        assert value not in text
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    assert {"email": "[redacted]", "shipping_address": "[redacted]"}.items() <= lines[-1].items()

    failures = [line for line in lines if line["event"] == "connector_failed"]
    assert {(f["order_id"], f["activity"], f["error_class"]) for f in failures} >= {
        (happy.order_id, "authorize_payment", "TransientError"),
        (unhappy.order_id, "capture_payment", "BusinessRejection"),
        (unhappy.order_id, "void_label", "BusinessRejection"),
    }
    assert all(f["workflow_id"] == f"order:{f['order_id']}" and f["attempt"] >= 1 for f in failures)
    # The SDK's own lines (workflow.logger in the saga) carry the same fields.
    [saga] = [line for line in lines if line.get("logger") == "temporalio.workflow"]
    assert saga["order_id"] == unhappy.order_id and saga["workflow_id"] == f"order:{unhappy.order_id}"
    assert saga["level"] == "error"
