"""Errors the routes did not plan for still answer as problem details: Temporal not answering is a 503 a caller
retries after ``Retry-After``; anything else is a 500 that says nothing of the internals."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api import problems

RAISED: dict[str, Exception] = {
    "unavailable": RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
    "deadline": RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b""),
    "rpc-timeout": RPCTimeoutOrCancelledError("timed out"),
    # What Temporal answers when no worker answers a query in time (say, the run's first task is still queued).
    "query-timeout": RPCError("Timeout expired", RPCStatusCode.CANCELLED, b""),
    "permission": RPCError("namespace denied: secret-namespace", RPCStatusCode.PERMISSION_DENIED, b""),
    "bug": KeyError("customer.email=ana@example.com"),
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    problems.install(app)

    @app.get("/raise/{name}")
    async def fail(name: str) -> None:
        raise RAISED[name]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


@pytest.mark.parametrize("name", ["unavailable", "deadline", "rpc-timeout", "query-timeout"])
async def test_temporal_not_answering_is_a_503_to_retry(http: httpx.AsyncClient, name: str) -> None:
    answer = await http.get(f"/raise/{name}")
    assert answer.status_code == 503 and answer.headers["retry-after"] == str(problems.RETRY_AFTER_S)
    assert answer.headers["content-type"] == problems.MEDIA_TYPE
    assert answer.json()["title"] == "Temporarily unavailable"


@pytest.mark.parametrize("name", ["permission", "bug"])
async def test_anything_else_is_a_500_problem_that_reveals_nothing(http: httpx.AsyncClient, name: str) -> None:
    answer = await http.get(f"/raise/{name}")
    assert answer.status_code == 500 and answer.headers["content-type"] == problems.MEDIA_TYPE
    assert answer.json() == {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "detail": "the error was logged",
    }
    assert "retry-after" not in answer.headers
