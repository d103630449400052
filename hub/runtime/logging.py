"""structlog configuration: JSON lines for machines, readable lines on a terminal.

Context (order id, workflow id, activity, attempt) is bound with contextvars by the activity boundary, so every
line says what it is about; the Temporal SDK's own lines (``workflow.logger``, ``activity.logger``, the worker)
get the same fields from the workflow or activity info the SDK attaches to them. Customer PII is never logged:
log ids, never emails, names, addresses or phone numbers; as a safety net, a field named like one is redacted.
"""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog
from temporalio import activity, workflow

PII_FIELDS = frozenset(
    {"email", "name", "customer_name", "phone", "shipping_address", "billing_address", "line1", "line2", "customer"}
)
"""Field names that would carry customer PII: never logged, redacted if a call passes one anyway. (Not
``address``: that is the Temporal server's.)"""

_ID_PREFIXES = {"order": "order_id", "return": "rma_id"}
"""Workflow ids are ``order:{order_id}`` and ``return:{rma_id}`` (``domain.keys``)."""


def _redact_pii(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in PII_FIELDS.intersection(event):
        event[key] = "[redacted]"
    return event


def _temporal_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Lift the workflow or activity info the SDK puts on its log records into the line's own fields."""
    record = event.get("_record")
    info = getattr(record, "temporal_workflow", None) or getattr(record, "temporal_activity", None)
    if not isinstance(info, dict):
        return event
    workflow_id = info.get("workflow_id")
    fields = {
        "workflow_id": workflow_id,
        "workflow_type": info.get("workflow_type"),
        "activity": info.get("activity_type"),
        "attempt": info.get("attempt"),
    }
    if isinstance(workflow_id, str):
        kind, _, ident = workflow_id.partition(":")
        if kind in _ID_PREFIXES:
            fields[_ID_PREFIXES[kind]] = ident
    for key, value in fields.items():
        if value is not None:
            event.setdefault(key, value)
    return event


def configure_logging(fmt: Literal["auto", "json", "console"] = "auto", level: str = "INFO") -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_pii,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # The Temporal SDK logs through the standard library (workflow.logger, activity.logger): route it through
    # the same renderer so one process writes one format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _temporal_context],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The console renderer prints tracebacks itself; JSON needs them as a string field.
                *([] if use_console else [structlog.processors.format_exc_info]),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The SDK appends its info to the message text by default; as fields (above) it can be queried instead.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
