"""Errors as RFC 9457 problem details (``application/problem+json``).

The core raises one error tree (custmdm.errors); this maps each class to its status
and a stable ``type``, keeps the core's message as ``detail`` (it already says what is
wrong and how to fix it) and adds what a client acts on: the duplicate candidates,
the change request. Nothing else of an exception, no stack trace, ever leaves.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from custmdm.core.dedup import DuplicateSuspected
from custmdm.errors import (
    ApprovalRequired,
    ConfigurationError,
    Conflict,
    CustMDMError,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationError,
)

PROBLEM_JSON = "application/problem+json"

#: The problem details body, as the OpenAPI document describes it.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<kind>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what is wrong and how to fix it"},
        "errors": {"type": "array", "description": "422: each field and rule",
                   "items": {"type": "object"}},
        "action": {"type": ["string", "null"], "description": "409 duplicate: block/warn"},
        "candidates": {"type": "array", "description": "409 duplicate: the customers it "
                                                       "may be", "items": {"type": "object"}},
    },
}
_MEANINGS = {401: "no valid token", 403: "not allowed", 404: "not found",
             409: "a conflict, or a likely duplicate (with candidates)",
             412: "the customer changed since it was read (If-Match)",
             413: "the request is too large", 422: "invalid input",
             428: "If-Match is needed", 500: "an error on the server (logged)"}
#: Every route's error responses: problem details (give as a router's ``responses``).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": meaning,
             "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
    for status, meaning in _MEANINGS.items()}
_log = logging.getLogger("custmdm.api")

#: (class, status, type slug, title), most specific first.
_MAPPING: tuple[tuple[type[CustMDMError], int, str, str], ...] = (
    (StaleVersion, 412, "stale-version", "The customer changed since it was read"),
    (DuplicateSuspected, 409, "duplicate", "The customer may be registered already"),
    (ValidationError, 422, "validation", "The input cannot be accepted"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "The change conflicts with the current state"),
    (PermissionDenied, 403, "forbidden", "Not allowed"),
    (ConfigurationError, 500, "configuration", "The service is not set up for this"),
)


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail,
            **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def problem_of(error: CustMDMError) -> JSONResponse:
    """The response for a core error."""
    for cls, status, slug, title in _MAPPING:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            if isinstance(error, DuplicateSuspected):
                extra = error.result.to_dict()
            elif isinstance(error, ValidationError):
                extra = {"errors": [{"field": error.field, "rule": error.rule,
                                     "message": error.message}]}
            return problem(status, slug, title, error.message, **extra)
    return problem(400, "error", "The request cannot be done", error.message)


def install(app: FastAPI) -> None:
    """Register the handlers: core errors, request validation, HTTP errors, the rest."""

    @app.exception_handler(ApprovalRequired)
    async def _approval(_: Request, error: ApprovalRequired) -> JSONResponse:
        return JSONResponse({"status": "pending approval", "detail": error.message,
                             "request_id": error.request_id}, status_code=202)

    @app.exception_handler(CustMDMError)
    async def _core(_: Request, error: CustMDMError) -> JSONResponse:
        return problem_of(error)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or None,
                   "rule": e.get("type"), "message": e.get("msg")} for e in error.errors()]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        where = f"{first['field']}: " if first["field"] else ""
        return problem(422, "validation", "The input cannot be accepted",
                       f"{where}{first['message']}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = {401: "unauthorized", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed", 429: "too-many-requests",
                412: "precondition-failed", 413: "too-large",
                428: "precondition-required"}.get(error.status_code, "error")
        response = problem(error.status_code, slug, str(error.detail), str(error.detail))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=error)
        return problem(500, "internal", "Internal error",
                       "something went wrong on the server; it is logged")
