"""The v1 routes and what the OpenAPI document says of each, declared side by side.

Each module of the API has its own table (``routes = ApiRoutes()``, filled by
``@routes.route(...)``); the app factory lists the tables and mounts them with
:class:`Api`, which the OpenAPI document and the request metrics read. Importing a module
registers nothing anywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A parameter's JSON schema: a type name ("integer"), or the whole schema with its bounds.
ParamSchema = str | dict[str, Any]


@dataclass(frozen=True, eq=False)  # compared (and hashed) by identity: one per route
class Operation:
    method: str
    path: str
    summary: str
    description: str
    handler: Handler
    body: type[BaseModel] | None
    multipart: dict[str, str] | None
    responses: dict[int, type[BaseModel] | str]
    query: dict[str, tuple[ParamSchema, str]]
    headers: dict[str, str | tuple[ParamSchema, str]]
    auth: tuple[str, ...]
    tag: str
    streams: bool = False
    errors: tuple[int, ...] = field(default=())


class ApiRoutes:
    """One module's route table: its routes, each with what the OpenAPI document says."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        description: str = "",
        body: type[BaseModel] | None = None,
        multipart: dict[str, str] | None = None,
        responses: dict[int, type[BaseModel] | str],
        query: dict[str, tuple[ParamSchema, str]] | None = None,
        headers: dict[str, str | tuple[ParamSchema, str]] | None = None,
        auth: tuple[str, ...] = (),
        errors: tuple[int, ...] = (),
        streams: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    summary=summary,
                    description=description or (handler.__doc__ or "").strip(),
                    handler=handler,
                    body=body,
                    multipart=multipart,
                    responses=responses,
                    query=query or {},
                    headers=headers or {},
                    auth=auth,
                    tag=tag,
                    streams=streams,
                    errors=errors,
                )
            )
            return handler

        return register


class Api:
    """The v1 API of one app: the route tables the app factory lists, in its order."""

    def __init__(self, *tables: ApiRoutes) -> None:
        self.operations: tuple[Operation, ...] = tuple(
            operation for table in tables for operation in table.operations
        )
        # The routes that stream (the events route): SSE and long-poll are told apart there.
        self.streaming_paths = frozenset(op.path for op in self.operations if op.streams)

    def add_to(self, app: web.Application) -> None:
        for operation in self.operations:
            app.router.add_route(operation.method, operation.path, operation.handler)


def json_response(model: BaseModel | dict[str, Any], status: int = 200) -> web.Response:
    if isinstance(model, BaseModel):
        text = model.model_dump_json(by_alias=True)
    else:
        text = orjson.dumps(model).decode()
    return web.Response(text=text, status=status, content_type="application/json")
