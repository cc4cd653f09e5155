"""The error middleware's answers for what aiohttp itself refuses."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.api.errors import error_middleware


async def test_a_body_past_the_apps_limit_is_a_413_envelope() -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()  # aiohttp refuses past client_max_size
        return web.Response()

    app = web.Application(middlewares=[error_middleware], client_max_size=1024)
    app.router.add_post("/v1/anything", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/v1/anything", data=b"x" * 4096)
        assert response.status == 413
        assert await response.json() == {
            "error": {"code": "too_large", "message": "the request body is larger than 1024 bytes"}
        }
