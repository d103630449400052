"""How a workflow reads an activity that failed for good: was it the business saying no, what it means for the
customer, and what to write on the timeline. One reading for the order's and the after-sales workflows, so both
tell the same story."""

from collections.abc import Mapping

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.order_view import FailureReason


def is_business_rejection(error: ActivityError) -> bool:
    """The upstream refused (card declined, out of stock, label refused): non-retryable, drives compensation.
    Anything else (configuration, exhausted retries, timeouts) is not the customer's doing."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == "BusinessRejection"


def failure_reason(step: str, error: ActivityError, rejections: Mapping[str, FailureReason]) -> FailureReason:
    """What a failed step means: the business reason ``rejections`` names for the step when the upstream said no;
    a system error for anything else (configuration errors, exhausted retries, timeouts): still an ending."""
    if is_business_rejection(error):
        return rejections.get(step, FailureReason.SYSTEM_ERROR)
    return FailureReason.SYSTEM_ERROR


def error_text(error: ActivityError) -> str:
    """``BusinessRejection: payment: card_declined``: the error class and the connector's PII-free message."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or error)
