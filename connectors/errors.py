"""The one error taxonomy every connector raises. Activities map it to Temporal in one place
(``activities/boundary.py``); nothing else needs to know vendor status codes.

ConnectorError
├── TransientError           network error, 5xx on a read, 409 concurrency: retry
│   └── RateLimitedError     429: retry after ``retry_after`` seconds
├── IndeterminateError       timeout or 5xx on a mutation: the change may have happened; reconcile by looking
│                            our reference up, then succeed or re-send with the same idempotency key
├── BusinessRejection        declined card, out of stock, rejected label, expired authorization: no retry;
│                            drives compensation and the customer message
└── ConfigurationError       401/403, malformed request, idempotency-key mismatch: no retry; operators fix it
"""


class ConnectorError(Exception):
    """Base of every error a connector raises. ``upstream`` names the system (``payment``, ``carrier`` …).

    ``message`` is written by the adapter from status and error codes, never copied from an upstream's error
    text: it reaches logs and workflow histories, and upstream texts can echo customer data.
    """

    def __init__(self, message: str, *, upstream: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.upstream = upstream
        self.code = code


class TransientError(ConnectorError):
    """Nothing was changed, or the call is safe to repeat: retry."""


class RateLimitedError(TransientError):
    def __init__(self, message: str, *, upstream: str, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, upstream=upstream, code=code)
        self.retry_after = retry_after


class IndeterminateError(ConnectorError):
    """A mutation whose outcome is unknown. Connectors reconcile before raising it; raised means "still
    unknown": retry with the same idempotency key."""


class BusinessRejection(ConnectorError):
    """The upstream understood and said no. ``code`` is stable and machine-readable (``card_declined``)."""


class ConfigurationError(ConnectorError):
    """The request can never succeed as configured (credentials, a malformed call): an operator must act."""
