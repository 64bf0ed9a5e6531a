"""Every error leaves as a problem JSON: {"status", "code", "detail"}; never a stack trace."""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from functions.core.errors import AppError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"status": status, "code": code, "detail": detail, **extra},
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    # A validator's own sentence reads as pydantic's "Value error, <sentence>": the prefix helps nobody.
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{location or 'body'}: {message}"


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    body = exc.problem()
    return problem_response(body.pop("status"), body.pop("code"), body.pop("detail"), exc.headers, **body)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(error) for error in exc.errors()]
    return problem_response(422, "invalid_request", "; ".join(errors), errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    methods = _methods_of(request) if exc.status_code == 405 else []
    if methods:
        # Every method the API path takes, not only those of the first route that matched it.
        headers["Allow"] = ", ".join(methods)
    return problem_response(exc.status_code, code, str(exc.detail), headers)


def _methods_of(request: Request) -> list[str]:
    operations: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        request.app.state, "operations", None
    )
    if operations is None:
        paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
        operations = [
            (compile_path(template)[0], frozenset(method.upper() for method in item))
            for template, item in paths.items()
        ]
        request.app.state.operations = operations
    path = request.url.path
    return sorted({method for pattern, methods in operations if pattern.match(path) for method in methods})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(500, "internal_error", "something went wrong on our side; please try again")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
