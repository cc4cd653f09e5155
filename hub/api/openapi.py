"""``/v1/openapi.json``: built from the app's route tables, so it cannot miss an endpoint."""

from __future__ import annotations

import functools
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import hub
from hub import keys
from hub.api.registry import ApiRoutes, Operation, ParamSchema, json_response
from hub.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "Malformed request: invalid JSON, or text that breaks the text rules (a NUL, a lone "
    "surrogate, JSON deeper than 32 levels, a key twice, a number that is not finite).",
    401: "Missing, wrong or expired credentials.",
    403: "The credentials do not allow this (another conversation, a foreign origin).",
    404: "No such conversation or file (another bot's conversations are not found either).",
    409: "The conversation's state does not allow this (for example it has ended).",
    413: "The body or the file is too large.",
    415: "The body is not of an accepted type.",
    422: "The body does not fit the schema; `fields` names each problem.",
    429: "Too many calls from this bot key, conversation token or address: wait Retry-After.",
    503: "The database is unavailable; try again.",
}
# Every operation may answer these: the text rules on its path, query and headers (400),
# the rate limits (429) and a database that is down (503).
COMMON_ERRORS = (400, 429, 503)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before calling again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
SECURITY_SCHEMES = {
    "botKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The bot's secret key (sk_...), for server-side callers.",
    },
    "botId": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Bot-Id",
        "description": "The bot's public id, for browser widgets on one of its allowed origins.",
    },
    "conversationToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The conversation token (ct_...) from POST /v1/escalations.",
    },
}


def _models(operations: list[Operation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorOut": ErrorOut}
    for operation in operations:
        if operation.body is not None:
            found[operation.body.__name__] = operation.body
        for response in operation.responses.values():
            if isinstance(response, type):
                found[response.__name__] = response
    return list(found.values())


def _schema(kind: ParamSchema) -> dict[str, Any]:
    return {"type": kind} if isinstance(kind, str) else kind


def _operation(operation: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", operation.path)
    ]
    for name, (kind, description) in operation.query.items():
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": _schema(kind),
                "description": description,
            }
        )
    for name, declared in operation.headers.items():
        kind, description = declared if isinstance(declared, tuple) else ("string", declared)
        parameters.append(
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": _schema(kind),
                "description": description,
            }
        )
    spec: dict[str, Any] = {
        "operationId": operation.handler.__name__,
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": parameters,
        "responses": {},
    }
    if operation.description:
        spec["description"] = operation.description
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=operation.body.__name__)}}
            },
        }
    if operation.multipart is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            name: {"type": "string", "description": text}
                            | ({"format": "binary"} if name == "file" else {})
                            for name, text in operation.multipart.items()
                        },
                    }
                }
            },
        }
    for status, response in operation.responses.items():
        if isinstance(response, str):
            spec["responses"][str(status)] = {"description": response}
        else:
            content_type = "application/json"
            spec["responses"][str(status)] = {
                "description": (response.__doc__ or response.__name__).strip().split("\n")[0],
                "content": {
                    content_type: {"schema": {"$ref": REF.format(model=response.__name__)}}
                },
            }
    if operation.streams:
        spec["responses"]["200"]["content"]["text/event-stream"] = {
            "schema": {"type": "string", "description": "SSE: `id: <seq>`, `data: <envelope>`"}
        }
    for status in sorted({*operation.errors, *COMMON_ERRORS}):
        spec["responses"][str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}},
        }
        if status == 429:
            spec["responses"][str(status)]["headers"] = RETRY_AFTER
    if operation.auth:
        spec["security"] = [{scheme: []} for scheme in operation.auth]
    return spec


@functools.cache  # per set of routes: every app of a process has the same
def build_document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(model, "validation") for model in _models(list(operations))], ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "offload-hub chatbot API",
            "version": hub.__version__,
            "description": "Hand a chatbot conversation to a human and receive the agent side "
            "as Inbenta Chatbot SDK actions. See docs/protocol.md.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


routes = ApiRoutes()


@routes.route(
    "GET",
    "/v1/openapi.json",
    tag="operations",
    summary="This document",
    responses={200: "The OpenAPI 3.1 document of the v1 API."},
)
async def get_openapi(request: web.Request) -> web.Response:
    return json_response(build_document(request.app[keys.API].operations))
