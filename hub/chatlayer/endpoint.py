"""``/v1/chatlayer/{name}``: the URL a Chatlayer bot's Offloading Webhook calls.

Every call carries the integration's Verify Token as ``?challenge.verifyToken=`` (the only
credential Chatlayer's contract has); it is compared in constant time. A missing token is
401, a wrong one 403, an unknown integration 404; a bad body gets the hub's usual 4xx
(400 not JSON, 413 too large, 415 not JSON at all, 422 not an event Chatlayer sends) and
changes nothing.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from pydantic import BaseModel, RootModel

from hub import keys
from hub.api.bodies import read_json, validate
from hub.api.registry import ApiRoutes, ParamSchema, json_response
from hub.chatlayer.schemas import (
    ChallengeOut,
    ChatlayerEventIn,
    EventKind,
    MessagesEvent,
    MessagesOut,
    OffloadEvent,
    OffloadOut,
)
from hub.chatlayer.settings import ChatlayerSettings
from hub.errors import Forbidden, Invalid, NotFound, Unauthorized

PATH = "/v1/chatlayer/{name}"
TOKEN = "challenge.verifyToken"
TOKEN_QUERY: dict[str, tuple[ParamSchema, str]] = {
    TOKEN: ("string", "The integration's Verify Token, as set in Chatlayer.")
}


class ChatlayerAnswerOut(RootModel[MessagesOut | OffloadOut]):
    """The answer to an event: for ``offload``, what Chatlayer acts on."""


def integration_of(request: web.Request) -> tuple[str, ChatlayerSettings]:
    """The integration the URL names, if the request carries its Verify Token."""
    name = request.match_info["name"]
    integration = request.app[keys.SETTINGS].chatlayer.get(name)
    if integration is None:
        raise NotFound(f"there is no Chatlayer integration {name!r}", code="unknown_integration")
    token = request.query.get(TOKEN)
    if not token:
        raise Unauthorized(
            f"pass the integration's Verify Token as ?{TOKEN}=", code="missing_token"
        )
    expected = integration.verify_token.get_secret_value()
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("the Verify Token does not match this integration's", code="invalid_token")
    return name, integration


def _out(model: BaseModel) -> web.Response:
    return json_response(model.model_dump(exclude_none=True))


routes = ApiRoutes()


@routes.route(
    "GET",
    PATH,
    tag="chatlayer",
    summary="Chatlayer's health check",
    query=TOKEN_QUERY,
    responses={200: ChallengeOut},
    errors=(401, 403, 404),
)
async def chatlayer_health_check(request: web.Request) -> web.Response:
    """Chatlayer calls this when the webhook is saved in its Offloading settings."""
    integration_of(request)
    return _out(ChallengeOut())


@routes.route(
    "POST",
    PATH,
    tag="chatlayer",
    summary="Chatlayer's messages and offloads",
    query=TOKEN_QUERY,
    body=ChatlayerEventIn,
    responses={200: ChatlayerAnswerOut},
    errors=(400, 401, 403, 404, 413, 415, 422),
)
async def chatlayer_event(request: web.Request) -> web.Response:
    """``messages`` keeps the session's history (and passes the user's messages on to an
    open chat); ``offload`` escalates and answers ``{"offloadSuccess": true, "pauseBot":
    true}`` when a provider took the conversation, else ``offloadSuccess: false`` and the
    ``reason``. docs/chatlayer.md has the details."""
    name, integration = integration_of(request)
    limits = request.app[keys.SETTINGS].limits
    kind = await read_json(request, EventKind, limits)
    data = kind.model_dump()
    event: MessagesEvent | OffloadEvent
    if kind.event == "messages":
        event = validate(MessagesEvent, data, limits)
    elif kind.event == "offload":
        event = validate(OffloadEvent, data, limits)
    else:
        raise Invalid(
            f"unknown event {kind.event!r}: Chatlayer sends 'messages' and 'offload'",
            code="unknown_event",
        )
    if integration.chatlayer_bot_id is not None and event.botId != integration.chatlayer_bot_id:
        raise Forbidden(
            f"this integration takes Chatlayer bot {integration.chatlayer_bot_id!r} only",
            code="wrong_bot",
        )
    events = request.app[keys.CHATLAYER_EVENTS]
    if isinstance(event, MessagesEvent):
        return _out(await events.messages(name, integration, event))
    return _out(await events.offload(name, integration, event))
