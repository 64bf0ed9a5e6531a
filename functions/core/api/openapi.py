"""The OpenAPI document of an app: every operation lists the problems it can answer, and what a create
answers links to the operations on the created resource.

Every error leaves as `application/problem+json` (`Problem`): 413 and 422 on any operation (the body
limit and the text check run before routing), 400 where a body is parsed, 401/403/404 where a caller
is authenticated, and whatever a route adds with `responses=problems(...)` (409, 415, 429, 5xx)."""

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from functions.core.api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["status", "code", "detail"],
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status, repeated"},
        "code": {"type": "string", "description": "A stable machine-readable reason, e.g. session_ended"},
        "detail": {"type": "string", "description": "A sentence a person can act on"},
        "errors": {"type": "array", "items": {"type": "string"}, "description": "Each invalid field"},
        "provider": {"type": "string", "description": "The avatar or speech provider that failed"},
    },
}
_DESCRIPTIONS = {
    400: "The body could not be parsed",
    401: "No valid access token",
    403: "The token may not do this (wrong kind, origin or session)",
    404: "No such resource, or not the caller's",
    409: "The resource is in a state that refuses this (e.g. the session has ended)",
    413: "The body is over the size limit",
    415: "Unsupported media type",
    422: "The request is invalid",
    429: "A limit or quota is reached; see Retry-After",
    501: "Not available in this deployment (e.g. no transcription provider)",
    502: "The provider failed",
    503: "A service this needs is not configured or not reachable",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for the problems it answers beyond those every operation has."""
    return {status: _problem(status) for status in statuses}


def _problem(status: int) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS[status], "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}


# Schemas FastAPI does not derive from a route (the events of a stream), by component name. Their
# adapters are made when a document is built, not when a route declares them (at a cold start).
_COMPONENTS: dict[str, Any] = {}
_REF = "#/components/schemas/{model}"


def component(name: str, annotation: Any) -> dict[str, str]:
    """A `$ref` to `annotation`'s JSON Schema, published as the component `name` in every document that
    refers to it."""
    _COMPONENTS[name] = annotation
    return {"$ref": _REF.format(model=name)}


def document_components(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    paths = json.dumps(schema.get("paths", {}))
    for name, annotation in _COMPONENTS.items():
        if f'"{_REF.format(model=name)}"' not in paths:
            continue
        published = TypeAdapter(annotation).json_schema(ref_template=_REF, mode="serialization")
        for model, definition in published.pop("$defs", {}).items():
            components.setdefault(model, definition)
        components[name] = published


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            document_components(schema)
            document_problems(schema)
            document_links(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


# What a created resource's answer gives the operations on it: OpenAPI links, from (path, method,
# status) to each path parameter's source. Every operation whose path parameters are all given is linked.
_CREATED = {
    ("/v1/avatars", "post", "201"): {"avatar_id": "$response.body#/id"},
    ("/v1/sessions", "post", "201"): {"session_id": "$response.body#/session_id"},
    ("/v1/avatars/{avatar_id}/knowledge", "post", "202"): {"document_id": "$response.body#/document_id"},
    ("/v1/avatars/{avatar_id}/api-keys", "post", "201"): {
        "avatar_id": "$request.path.avatar_id",
        "key_id": "$response.body#/id",
    },
}


def document_links(schema: dict[str, Any]) -> None:
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for (path, method, status), sources in _CREATED.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target, item in paths.items():
            needed = set(re.findall(r"{(\w+)}", target))
            if not needed or not needed <= sources.keys():
                continue
            for operation in item.values():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {name: sources[name] for name in needed},
                }


def document_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own validation error shapes are never sent: every 422 is a Problem.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            common = [413, 422]
            if "requestBody" in operation:
                common.append(400)
            if operation.get("security"):
                common += [401, 403, 404]
            for status in common:
                responses[str(status)] = _problem(status)
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
