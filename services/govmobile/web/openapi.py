"""OpenAPI documents that tell the whole truth: generated from the routes, plus what FastAPI
cannot see by itself.

- Every error answer has one body, :class:`~govmobile.web.errors.ErrorBody`; FastAPI's own 422
  shape (``HTTPValidationError``) is never sent, so it is replaced.
- Statuses every endpoint can answer are added to each operation: 500 always, 422 where there is
  input, 413 where there is a body, 401 where a bearer token is needed. Statuses that depend on
  the endpoint are declared on the route itself, with :func:`errors`.
- Endpoints served in front of the framework (``govmobile.web.fastpath``) are described from the
  models they read and answer.

:func:`merge` puts several services' documents together (the gateway publishes one for the admin
API and one for the device API, see ``govmobile.gateway.contract``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from govmobile.web.errors import ErrorBody
from govmobile.web.fastpath import FastRoute

Document = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF = "#/components/schemas/"

#: What each error status means, in every GovMobile document.
ERROR_MEANINGS: dict[int, str] = {
    400: "refused: the request breaks a rule; `error` names which (the message says what to do)",
    401: "unauthenticated: no credentials, or invalid, expired or revoked ones",
    403: "permission_denied (or a more precise code): the caller may not do this",
    404: "not_found: no such thing, or it belongs to another department",
    405: "method_not_allowed: the path does not serve this method; `Allow` lists those it does",
    409: "conflict: the request clashes with the current state; `error` says how",
    410: "gone: the thing existed but can no longer be used",
    413: "too_large: the body is larger than the service accepts",
    422: "invalid_request: malformed JSON, a wrong type, or a missing or out-of-range field; the message names it",
    429: "too_many_attempts: slow down; `Retry-After` says when to try again",
    500: "internal_error: a bug; the message carries a reference to quote to the operator",
    502: "upstream_unavailable: the service behind the gateway is not answering; try again shortly",
    503: "unavailable: a dependency (the CA, the database) cannot be reached; try again",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these error statuses, each with the common error body."""
    return {status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in statuses}


def describe(app: FastAPI, *, fast_routes: Sequence[FastRoute] = (), description: str = "") -> None:
    """Make ``app.openapi()`` produce the service's whole contract (built once, then kept)."""

    def openapi() -> Document:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=description or app.description,
                routes=app.routes,
            )
            for route in fast_routes:
                _add_fast_route(document, route)
            complete_errors(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_errors(document: Document) -> None:
    """The error answers every operation can give, in the common error shape."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = _schema_of(ErrorBody, schemas)
    for operation in operations(document):
        responses = operation.setdefault("responses", {})
        for status, response in list(responses.items()):
            if status.isdigit() and int(status) >= 400 and _framework_error(response):
                response["content"] = _error_content()
                response["description"] = ERROR_MEANINGS.get(int(status), response.get("description", ""))
        if operation.get("parameters") or operation.get("requestBody"):
            add_response(operation, 422)
        if operation.get("requestBody"):
            add_response(operation, 413)
        if operation.get("security"):
            add_response(operation, 401)
        add_response(operation, 500)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def add_response(operation: Document, status: int, description: str | None = None) -> None:
    """Declare an error status on an operation, with the common error body.

    When the operation already answers this status with another body (OCSP answers a malformed
    request with an OCSP response), the common body is added beside it, and the meaning too.
    """
    meaning = description or ERROR_MEANINGS[status]
    responses = operation.setdefault("responses", {})
    response = responses.get(str(status))
    if response is None:
        responses[str(status)] = {"description": meaning, "content": _error_content()}
        return
    content = response.setdefault("content", {})
    if "application/json" not in content:
        content.update(_error_content())
        response["description"] = f"{response.get('description', '')}; or {meaning}".lstrip("; ")


def operations(document: Document) -> Iterable[Document]:
    for item in document.get("paths", {}).values():
        for method in METHODS:
            if method in item:
                yield item[method]


def _framework_error(response: Document) -> bool:
    """An error answer without a body of its own, or with FastAPI's 422 shape (never sent)."""
    content = response.get("content")
    return content is None or "HTTPValidationError" in str(content) or "ErrorBody" in str(content)


def _error_content() -> Document:
    return {"application/json": {"schema": {"$ref": _REF + "ErrorBody"}}}


def _schema_of(model: type[BaseModel], schemas: Document) -> Document:
    _, definitions = models_json_schema([(model, "serialization")], ref_template=_REF + "{model}")
    found = definitions.get("$defs", {})
    for name, schema in found.items():
        if name != model.__name__:
            schemas.setdefault(name, schema)
    return dict(found[model.__name__])


def _add_fast_route(document: Document, route: FastRoute) -> None:
    key_map, definitions = models_json_schema(
        [(route.request_model, "validation"), (route.response_model, "serialization")],
        ref_template=_REF + "{model}",
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name}; rename one of the models")
        schemas[name] = schema
    request = key_map[(route.request_model, "validation")]
    response = key_map[(route.response_model, "serialization")]
    operation: Document = {
        "tags": list(route.tags),
        "summary": route.summary,
        "description": route.description,
        "operationId": route.path.strip("/").replace("/", "_") + "_" + route.method.lower(),
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": response}},
            },
            **{str(status): {"description": ERROR_MEANINGS[status]} for status in route.error_statuses},
        },
    }
    document.setdefault("paths", {}).setdefault(route.path, {})[route.method.lower()] = operation


# -- merging ---------------------------------------------------------------------------------------


def merge(
    parts: Iterable[tuple[Document, Callable[[str], bool]]],
    *,
    title: str,
    version: str,
    description: str,
) -> Document:
    """One document from several: each part's paths the predicate keeps, with the schemas they use.

    A schema name used by two parts for two different schemas is a mistake in the code (the
    document could not say which is meant), so it is refused rather than guessed.
    """
    merged: Document = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for document, keep in parts:
        paths = {path: item for path, item in document.get("paths", {}).items() if keep(path)}
        if not paths:
            continue
        components = document.get("components", {})
        for kind in ("schemas", "securitySchemes"):
            available: Mapping[str, Any] = components.get(kind, {})
            wanted = _referenced(paths, available) if kind == "schemas" else _security_names(paths)
            for name in wanted:
                if name not in available:
                    continue
                existing = merged["components"][kind].get(name)
                if existing is not None and existing != available[name]:
                    raise ValueError(f"two services define the {kind} entry {name} differently")
                merged["components"][kind][name] = copy.deepcopy(available[name])
        for path, item in paths.items():
            if path in merged["paths"]:
                raise ValueError(f"two services serve {path}")
            merged["paths"][path] = copy.deepcopy(item)
    tags = sorted({tag for operation in operations(merged) for tag in operation.get("tags", [])})
    merged["tags"] = [{"name": tag} for tag in tags]
    return merged


def _referenced(paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> set[str]:
    """Schema names reachable from these paths, following references inside schemas too."""
    found: set[str] = set()
    pending = list(_refs(paths))
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        if name in schemas:
            pending.extend(_refs(schemas[name]))
    return found


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            yield ref.removeprefix(_REF)
        for inner in value.values():
            yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)


def _security_names(paths: Mapping[str, Any]) -> set[str]:
    return {
        name
        for item in paths.values()
        for method in METHODS
        for requirement in item.get(method, {}).get("security", [])
        for name in requirement
    }
