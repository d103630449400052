"""Every error the API returns has one shape: RFC 9457 problem details (``application/problem+json``).

Validation errors add ``errors``: one entry per bad field, with the field's dotted path and the reason.
"""

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from hub.client import DecisionRefused, NotFound

MEDIA_TYPE = "application/problem+json"
T = TypeVar("T")


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

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)


async def decided(refused_title: str, decision: Awaitable[T]) -> T:
    """A decision's answer (on an order or an RMA): the object after it, or why not (404 unknown, 409 refused)."""
    try:
        return await decision
    except NotFound as missing:
        raise Problem(404, missing.title, f"no {missing.kind} {missing}") from None
    except DecisionRefused as refused:
        raise Problem(409, refused_title, str(refused)) from None
