"""How a workflow reads an activity that failed for good: was it the business saying no, and what to write on the
timeline. One reading for the order's and the after-sales workflows, so both tell the same story."""

from temporalio.exceptions import ActivityError, ApplicationError


def is_business_rejection(error: ActivityError) -> bool:
    """The upstream refused (card declined, out of stock, label refused): non-retryable, drives compensation.
    Anything else (configuration, exhausted retries, timeouts) is not the customer's doing."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == "BusinessRejection"


def error_text(error: ActivityError) -> str:
    """``BusinessRejection: payment: card_declined``: the error class and the connector's PII-free message."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or error)
