"""Errors as RFC 9457 problem details (``application/problem+json``).

Every refusal of the booking core is a ``BookingError`` whose class says
what went wrong and whose message a host can read: it maps to a status code
here and its message becomes the problem's ``detail``. A 500 only ever means
a bug of ours; it names the request id to look for in the logs.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from booking_core.errors import (
    AlreadyExists,
    BookingError,
    Conflict,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    NotFound,
    Unavailable,
)

PROBLEM_TYPE_BASE = "https://servicesphere.example/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("servicesphere.api")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus ``code`` (stable, for programs) and
    ``request_id`` (for the logs)."""

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "no_table_free"])
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    code: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """A refusal raised by the HTTP layer itself (auth, signatures, limits)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


# The order matters: the first class an error is an instance of wins.
_STATUS: tuple[tuple[type[BookingError], int], ...] = (
    (NotFound, 404),
    (InvalidRequest, 422),
    (IdempotencyConflict, 409),
    (IllegalTransition, 409),
    (Conflict, 409),
    (AlreadyExists, 409),
    (Unavailable, 409),
)


def status_of(error: BookingError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        request_id=getattr(request.state, "request_id", None),
        errors=[FieldError(**e) for e in errors] if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


async def _booking_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BookingError)
    return problem_response(request, status_of(exc), exc.code, str(exc))


async def _api_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(request, exc.status, exc.code, exc.detail, headers=exc.headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in jsonable_encoder(exc.errors(), custom_encoder={bytes: repr})
    ]
    first = errors[0] if errors else None
    detail = (
        f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}" if first else "Invalid request."
    )
    return problem_response(request, 422, "validation_error", detail, errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
    return problem_response(
        request, exc.status_code, code, detail, headers=getattr(exc, "headers", None)
    )


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # Dates near year 1 or 9999 overflow when a slot is turned into UTC, and
    # numbers beyond what the database stores: both come from the client.
    return problem_response(
        request, 422, "out_of_range", f"A value is out of the range we can handle: {exc!s:.100}"
    )


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(
        request,
        500,
        "internal_error",
        "Something went wrong on our side; quote the request id when reporting it.",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(BookingError, _booking_error)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(Exception, _bug)


def _doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {MEDIA_TYPE: {}}}


# Documented on every route, so clients (and schemathesis) know the shape of a refusal.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _doc("The body could not be read (not JSON, or not UTF-8)"),
    401: _doc("Not signed in, or the token or key is not valid"),
    403: _doc("Signed in, but not allowed to do this"),
    404: _doc("No such thing"),
    409: _doc("The restaurant cannot take it, or it conflicts with the current state"),
    422: _doc("The request is malformed"),
    429: _doc("Too many requests; see Retry-After"),
}
