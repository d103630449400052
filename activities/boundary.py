"""The one place where the connector error taxonomy becomes Temporal behaviour.

| connector error       | Temporal                                                       |
|-----------------------|----------------------------------------------------------------|
| BusinessRejection     | non-retryable ``ApplicationError`` → the workflow compensates  |
| ConfigurationError    | non-retryable ``ApplicationError`` → compensates, logged as an operator alert |
| RateLimitedError      | retryable, ``next_retry_delay`` = the upstream's Retry-After    |
| TransientError        | retryable (the activity retry policy's backoff)                 |
| IndeterminateError    | retryable: the next attempt re-sends with the same key          |

The same interceptor binds the log context (order, workflow, activity, attempt) so every connector log line
says which order it is about, without the connectors knowing Temporal, and counts each failure in
``hub_connector_errors{error_class, upstream}`` through the activity's metric meter (served with the SDK's own
metrics when the worker's runtime exports them; a no-op otherwise).
"""

from datetime import timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from connectors.errors import (
    BusinessRejection,
    ConfigurationError,
    ConnectorError,
    RateLimitedError,
)
from domain.contract import order_id_of_workflow

log = structlog.get_logger("hub.activity")


def to_application_error(error: ConnectorError) -> ApplicationError:
    details = {"upstream": error.upstream, "code": error.code}
    kind = type(error).__name__
    if isinstance(error, BusinessRejection | ConfigurationError):
        return ApplicationError(error.message, details, type=kind, non_retryable=True)
    delay = timedelta(seconds=error.retry_after) if isinstance(error, RateLimitedError) else None
    return ApplicationError(error.message, details, type=kind, next_retry_delay=delay)


class ConnectorBoundaryInterceptor(Interceptor):
    """Register on the worker: ``Worker(..., interceptors=[ConnectorBoundaryInterceptor()])``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Boundary(next)


class _Boundary(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        order_id = getattr(input.args[0], "order_id", None) if input.args else None
        if order_id is None and info.workflow_id:
            # Inputs such as a label reference carry no order id; the order's workflow id does.
            order_id = order_id_of_workflow(info.workflow_id)
        with structlog.contextvars.bound_contextvars(
            order_id=order_id,
            workflow_id=info.workflow_id,
            activity=info.activity_type,
            attempt=info.attempt,
        ):
            try:
                return await super().execute_activity(input)
            except ConnectorError as error:
                failure = to_application_error(error)
                # Configuration errors need an operator; the rest the retry policy or the saga handles.
                emit = log.error if isinstance(error, ConfigurationError) else log.warning
                emit(
                    "connector_failed",
                    upstream=error.upstream,
                    error_class=type(error).__name__,
                    code=error.code,
                    retryable=not failure.non_retryable,
                )
                _count(error)
                raise failure from error


def _count(error: ConnectorError) -> None:
    counter = activity.metric_meter().create_counter(
        "hub_connector_errors", "Connector failures seen by activities, by error class and upstream"
    )
    counter.add(1, {"error_class": type(error).__name__, "upstream": error.upstream})
