"""Turning an HTTP exchange into the error taxonomy: the status-code rules live here, once.

Vendor adapters decide only what is vendor-specific (which 4xx codes are business rejections).
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn, TypeVar

import httpx

from connectors.errors import (
    ConfigurationError,
    ConnectorError,
    IndeterminateError,
    RateLimitedError,
    TransientError,
)

DEFAULT_RETRY_AFTER_S = 1.0
READ_ATTEMPTS = 3
READ_PAUSE_S = 0.2
MAX_READ_PAUSE_S = 2.0

T = TypeVar("T")

NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before a byte of the request left: no connection was made (refused, timed out) or
none was free in the pool. Repeating such a request cannot apply it twice."""

VendorRule = Callable[[httpx.Response], ConnectorError | None]
"""An adapter's reading of its upstream's own error codes: the taxonomy error, or ``None`` for the generic rules."""


def raise_for_transport(exc: httpx.TransportError, *, upstream: str, mutation: bool) -> NoReturn:
    """A request that got no answer. A mutation may have been applied before the connection broke."""
    if mutation and not isinstance(exc, NEVER_SENT):
        # The request may have reached the upstream only once a connection was made: a read timeout or a
        # reset after that is a maybe, a refused, timed-out or unavailable connection is a plain no.
        raise IndeterminateError(f"{upstream}: no answer ({type(exc).__name__})", upstream=upstream) from exc
    raise TransientError(f"{upstream}: unreachable ({type(exc).__name__})", upstream=upstream) from exc


def raise_for_status(
    response: httpx.Response,
    *,
    upstream: str,
    mutation: bool,
    vendor: VendorRule = lambda _: None,
) -> None:
    """Raise the taxonomy error for a non-2xx answer; return for 2xx.

    ``vendor`` lets the adapter classify its upstream's own error codes first (Stripe's 402 is a business
    rejection; EasyPost's "postage exists" means an earlier attempt succeeded) before the generic rules apply.
    """
    status = response.status_code
    if status < 300:
        return
    classified = vendor(response)
    if classified is not None:
        raise classified
    detail = f"{upstream}: HTTP {status}" + (f" {code}" if (code := _error_code(response)) else "")
    if status == 429:
        raise RateLimitedError(detail, upstream=upstream, retry_after=_retry_after(response))
    if status >= 500:
        if mutation:
            raise IndeterminateError(detail, upstream=upstream)
        raise TransientError(detail, upstream=upstream)
    if status in (408, 409, 423, 425):
        raise TransientError(detail, upstream=upstream)
    raise ConfigurationError(detail, upstream=upstream)


async def send(
    request: Callable[[], Awaitable[httpx.Response]],
    *,
    upstream: str,
    mutation: bool,
    vendor: VendorRule = lambda _: None,
    accept: frozenset[int] = frozenset(),
) -> httpx.Response:
    """Perform ``request`` and return its response if 2xx (or in ``accept``), else raise the taxonomy error.

    A read that fails transiently is repeated here, briefly: it is safe to repeat, and one lost lookup should not
    cost the whole activity attempt (and Temporal's backoff). Mutations are never repeated here: Temporal
    retries them, with the same idempotency key, after the adapter has reconciled.
    """
    attempts = 1 if mutation else READ_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            try:
                response = await request()
            except httpx.TransportError as exc:
                raise_for_transport(exc, upstream=upstream, mutation=mutation)
            if response.status_code not in accept:
                raise_for_status(response, upstream=upstream, mutation=mutation, vendor=vendor)
            return response
        except TransientError as error:
            pause = error.retry_after if isinstance(error, RateLimitedError) else READ_PAUSE_S * attempt
            if attempt == attempts or pause > MAX_READ_PAUSE_S:
                raise
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


async def get_optional(
    http: httpx.AsyncClient, path: str, *, upstream: str, params: dict[str, str] | None = None
) -> httpx.Response | None:
    """GET a resource by our reference: ``None`` when it does not exist (404), the taxonomy error otherwise."""
    response = await send(
        lambda: http.get(path, params=params), upstream=upstream, mutation=False, accept=frozenset({404})
    )
    return None if response.status_code == 404 else response


async def reconcile(attempt: Callable[[], Awaitable[T]], lookup: Callable[[], Awaitable[T | None]]) -> T:
    """Run a mutation; if its outcome is unknown, look our reference up before anyone re-sends it.

    Found: the mutation happened, return what it made. Not found: still unknown, so the error propagates and
    Temporal retries the mutation with the same idempotency key.
    """
    try:
        return await attempt()
    except IndeterminateError:
        try:
            found = await lookup()
        except ConnectorError:
            found = None
        if found is not None:
            return found
        raise


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: httpx.Response) -> float:
    """``Retry-After`` in seconds, given either as a number of seconds or as an HTTP date (RFC 9110 10.2.3).

    A date is measured from the answer's own ``Date`` header when it has one, so that a skew between the
    upstream's clock and ours does not stretch or cancel the pause; from our clock otherwise.
    """
    value = response.headers.get("Retry-After")
    if value is None:
        return DEFAULT_RETRY_AFTER_S
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    retry_at = _http_date(value)
    if retry_at is None:
        return DEFAULT_RETRY_AFTER_S
    answered_at = _http_date(response.headers.get("Date", "")) or datetime.now(UTC)
    return max(0.0, (retry_at - answered_at).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _error_code(response: httpx.Response) -> str | None:
    """The upstream's machine-readable error code, and nothing else from its body: error texts often echo the
    request (an address, an email), and this message ends up in logs and workflow histories."""
    error = json_body(response).get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return str(code)[:64] if code else None
    return str(error)[:64] if isinstance(error, str) else None
