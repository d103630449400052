"""One mapping from HTTP to the error taxonomy, and from the taxonomy to Temporal."""

from datetime import timedelta

import httpx
import pytest

from activities.boundary import to_application_error
from connectors.errors import (
    BusinessRejection,
    ConfigurationError,
    IndeterminateError,
    RateLimitedError,
    TransientError,
)
from connectors.http import DEFAULT_RETRY_AFTER_S, raise_for_status, raise_for_transport, reconcile, send


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://upstream/x"))


@pytest.mark.parametrize(
    ("status", "mutation", "expected"),
    [
        (500, False, TransientError),
        (503, False, TransientError),
        (500, True, IndeterminateError),
        (502, True, IndeterminateError),
        (409, True, TransientError),
        (400, True, ConfigurationError),
        (401, False, ConfigurationError),
        (403, True, ConfigurationError),
        (422, True, ConfigurationError),
    ],
)
def test_status_codes_map_to_the_taxonomy(status: int, mutation: bool, expected: type[Exception]) -> None:
    with pytest.raises(expected) as raised:
        raise_for_status(_response(status), upstream="erp", mutation=mutation)
    assert type(raised.value) is expected


def test_rate_limit_carries_retry_after() -> None:
    with pytest.raises(RateLimitedError) as raised:
        raise_for_status(_response(429, {"Retry-After": "7"}), upstream="payment", mutation=True)
    assert raised.value.retry_after == 7.0


def test_adapter_claims_business_rejections_first() -> None:
    def business(response: httpx.Response) -> BusinessRejection | None:
        return BusinessRejection("declined", upstream="payment", code="card_declined")

    with pytest.raises(BusinessRejection):
        raise_for_status(_response(402), upstream="payment", mutation=True, vendor=business)


def test_a_lost_answer_to_a_mutation_is_indeterminate_but_a_refused_connection_is_not() -> None:
    request = httpx.Request("POST", "http://upstream/x")
    with pytest.raises(IndeterminateError):
        raise_for_transport(httpx.ReadTimeout("slow", request=request), upstream="carrier", mutation=True)
    with pytest.raises(TransientError):
        raise_for_transport(httpx.ConnectError("refused", request=request), upstream="carrier", mutation=True)
    with pytest.raises(TransientError):
        raise_for_transport(httpx.ReadTimeout("slow", request=request), upstream="carrier", mutation=False)


@pytest.mark.parametrize(
    "never_sent",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("no connection"), httpx.PoolTimeout("no free connection")],
)
def test_a_mutation_that_never_left_is_transient_and_safe_to_repeat(never_sent: httpx.TransportError) -> None:
    """Also list of issue 14: a connect or pool timeout means no byte was sent, so nothing can have been applied."""
    never_sent.request = httpx.Request("POST", "http://upstream/x")
    with pytest.raises(TransientError) as raised:
        raise_for_transport(never_sent, upstream="payment", mutation=True)
    assert type(raised.value) is TransientError


def test_retry_after_as_an_http_date_is_measured_from_the_answer_date() -> None:
    """Also list of issue 14: ``Retry-After`` given as an HTTP date was ignored (the default pause was used)."""
    headers = {"Date": "Wed, 02 Dec 2026 16:00:00 GMT", "Retry-After": "Wed, 02 Dec 2026 16:00:42 GMT"}
    with pytest.raises(RateLimitedError) as raised:
        raise_for_status(_response(429, headers), upstream="carrier", mutation=True)
    assert raised.value.retry_after == 42.0


def test_retry_after_as_a_past_date_means_now_and_garbage_means_the_default() -> None:
    past = {"Retry-After": "Mon, 01 Jan 2001 00:00:00 GMT"}
    with pytest.raises(RateLimitedError) as raised:
        raise_for_status(_response(429, past), upstream="carrier", mutation=True)
    assert raised.value.retry_after == 0.0
    with pytest.raises(RateLimitedError) as raised:
        raise_for_status(_response(429, {"Retry-After": "soon"}), upstream="carrier", mutation=True)
    assert raised.value.retry_after == DEFAULT_RETRY_AFTER_S


async def test_reconcile_returns_what_the_lookup_finds_after_an_unknown_outcome() -> None:
    async def lost() -> str:
        raise IndeterminateError("timeout", upstream="payment")

    async def found() -> str | None:
        return "pi_123"

    async def missing() -> str | None:
        return None

    assert await reconcile(lost, found) == "pi_123"
    with pytest.raises(IndeterminateError):
        await reconcile(lost, missing)


def test_temporal_mapping_business_and_configuration_stop_retries_rate_limit_sets_the_delay() -> None:
    rejected = to_application_error(BusinessRejection("no", upstream="payment", code="card_declined"))
    assert (rejected.type, rejected.non_retryable, rejected.details) == (
        "BusinessRejection",
        True,
        ({"upstream": "payment", "code": "card_declined"},),
    )
    assert to_application_error(ConfigurationError("401", upstream="erp")).non_retryable
    assert not to_application_error(IndeterminateError("?", upstream="erp")).non_retryable
    limited = to_application_error(RateLimitedError("slow down", upstream="carrier", retry_after=3))
    assert not limited.non_retryable
    assert limited.next_retry_delay == timedelta(seconds=3)


async def test_a_failed_read_is_repeated_in_place_but_a_failed_mutation_is_not() -> None:
    calls = {"GET": 0, "POST": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.method] += 1
        return httpx.Response(503 if calls[request.method] < 3 else 200, json={})

    async with httpx.AsyncClient(base_url="http://upstream", transport=httpx.MockTransport(handler)) as http:
        response = await send(lambda: http.get("/x"), upstream="erp", mutation=False)
        assert response.status_code == 200 and calls["GET"] == 3
        with pytest.raises(IndeterminateError):
            await send(lambda: http.post("/x"), upstream="erp", mutation=True)
        assert calls["POST"] == 1


async def test_a_read_that_keeps_failing_gives_up_after_a_few_tries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502)

    async with httpx.AsyncClient(base_url="http://upstream", transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(TransientError):
            await send(lambda: http.get("/x"), upstream="carrier", mutation=False)
    assert calls == 3


def test_error_messages_carry_the_upstream_code_but_never_its_text() -> None:
    body = {"error": {"code": "ADDRESS.VERIFY.FAILURE", "message": "3 rue des Lilas, 75011 Paris is not valid"}}
    response = httpx.Response(400, json=body, request=httpx.Request("POST", "http://upstream/x"))
    with pytest.raises(ConfigurationError) as raised:
        raise_for_status(response, upstream="carrier", mutation=True)
    assert raised.value.message == "carrier: HTTP 400 ADDRESS.VERIFY.FAILURE"
