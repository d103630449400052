"""Every error the API returns has one shape: RFC 9457 problem details (``application/problem+json``).

Validation errors add ``errors``: one entry per bad field, with the field's dotted path and the reason. Temporal
not answering (unreachable, overloaded, or no worker answering a query in time) is a 503 with ``Retry-After``, so
that a caller can tell an outage it should retry from a refusal; anything else unexpected is a 500, without
details (it is logged).
"""

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from hub.client import DecisionRefused, NotFound

MEDIA_TYPE = "application/problem+json"
T = TypeVar("T")

log = structlog.get_logger("hub.api")

RETRY_AFTER_S = 2
# A query no worker answers in time comes back CANCELLED ("Timeout expired"), not DEADLINE_EXCEEDED.
_NOT_ANSWERING = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


class FieldError(BaseModel):
    field: str
    reason: str


class ProblemDetails(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Raise to answer with a problem: ``raise Problem(409, "Order conflict", "…")``."""

    def __init__(
        self, status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail or title)
        self.body = ProblemDetails(title=title, status=status, detail=detail)
        self.headers = headers


def problem_response(body: ProblemDetails, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=body.status, media_type=MEDIA_TYPE, headers=headers
    )


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem statuses a route can answer with."""
    return {status: {"model": ProblemDetails, "content": {MEDIA_TYPE: {}}} for status in statuses}


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.body, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(
                field=".".join(str(part) for part in error["loc"] if part != "body") or "body", reason=error["msg"]
            )
            for error in exc.errors()
        ]
        body = ProblemDetails(
            title="Invalid request", status=422, detail=f"{len(errors)} invalid field(s)", errors=errors
        )
        return problem_response(body)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem_response(ProblemDetails(title=str(exc.detail), status=exc.status_code), exc.headers)

    async def on_temporal(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status if isinstance(exc, RPCError) else None
        if isinstance(exc, RPCTimeoutOrCancelledError) or status in _NOT_ANSWERING:
            detail = "Temporal did not answer in time; try again after the delay in Retry-After"
            body = ProblemDetails(title="Temporarily unavailable", status=503, detail=detail)
            return problem_response(body, {"Retry-After": str(RETRY_AFTER_S)})
        log.error("temporal call failed", path=request.url.path, status=status.name if status else None)
        return _internal_error()

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error()  # Starlette logs the traceback after this answer

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RPCError, on_temporal)
    app.add_exception_handler(RPCTimeoutOrCancelledError, on_temporal)
    app.add_exception_handler(Exception, on_unexpected)


def _internal_error() -> JSONResponse:
    return problem_response(ProblemDetails(title="Internal error", status=500, detail="the error was logged"))


async def decided(refused_title: str, decision: Awaitable[T]) -> T:
    """A decision's answer (on an order or an RMA): the object after it, or why not (404 unknown, 409 refused)."""
    try:
        return await decision
    except NotFound as missing:
        raise Problem(404, missing.title, f"no {missing.kind} {missing}") from None
    except DecisionRefused as refused:
        raise Problem(409, refused_title, str(refused)) from None
