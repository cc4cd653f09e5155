"""``/v1/openapi.json``: built from the route registry, so it cannot miss an endpoint."""

from __future__ import annotations

import functools
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import hub
from hub.api.registry import Operation, api, json_response
from hub.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "Malformed request (for example invalid JSON).",
    401: "Missing, wrong or expired credentials.",
    403: "The credentials do not allow this (another conversation, a foreign origin).",
    404: "No such conversation or file (another bot's conversations are not found either).",
    409: "The conversation's state does not allow this (for example it has ended).",
    413: "The body or the file is too large.",
    415: "The body is not of an accepted type.",
    422: "The body does not fit the schema; `fields` names each problem.",
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
                "schema": {"type": kind},
                "description": description,
            }
        )
    for name, description in operation.headers.items():
        parameters.append(
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
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
    for status in operation.errors:
        spec["responses"][str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}},
        }
    if operation.auth:
        spec["security"] = [{scheme: []} for scheme in operation.auth]
    return spec


@functools.cache
def build_document() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(model, "validation") for model in _models(api.operations)], ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for operation in api.operations:
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


@api.route(
    "GET",
    "/v1/openapi.json",
    tag="operations",
    summary="This document",
    responses={200: "The OpenAPI 3.1 document of the v1 API."},
)
async def get_openapi(request: web.Request) -> web.Response:
    return json_response(build_document())
