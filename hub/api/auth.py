"""Who is calling: a bot (secret key, or public id from an allowed origin) or a conversation
token. Conversation endpoints accept the token or the key of the bot that owns it."""

from __future__ import annotations

from aiohttp import web

from hub import keys
from hub.errors import Forbidden, NotFound, Unauthorized
from hub.models import Bot, Conversation
from hub.security.keys import SECRET_PREFIX
from hub.security.tokens import TOKEN_PREFIX
from hub.store.bots import bot_by_secret
from hub.store.conversations import get_conversation
from hub.telemetry.context import bind

BOT_ID_HEADER = "X-Bot-Id"


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("use 'Authorization: Bearer <key or token>'", code="invalid_auth")
    return credentials.strip()


def check_origin(request: web.Request, bot: Bot, *, required: bool = False) -> None:
    """A browser's ``Origin`` must be one the bot allows (when the bot lists any)."""
    origin = request.headers.get("Origin")
    if origin is None and request.headers.get("Sec-Fetch-Site") == "same-origin":
        # Browsers send no Origin on a same-origin GET: the page is on the hub itself.
        origin = f"{request.scheme}://{request.host}"
    if origin is None:
        if required:
            raise Forbidden("browser calls by public bot id must come with an Origin header")
        return
    if required and not bot.allowed_origins:
        raise Forbidden(
            "this bot accepts no browser calls: add allowed origins to it",
            code="origin_not_allowed",
        )
    if bot.allowed_origins and origin.rstrip("/") not in bot.allowed_origins:
        raise Forbidden(f"origin {origin} is not allowed for this bot", code="origin_not_allowed")


def _usable(bot: Bot | None) -> Bot:
    if bot is None:
        raise Unauthorized("unknown bot key", code="invalid_key")
    if bot.disabled:
        raise Forbidden("this bot is disabled", code="bot_disabled")
    return bot


def by_public_id(request: web.Request) -> bool:
    """The caller is a browser widget: it sent the bot's public id, not its secret key."""
    return "Authorization" not in request.headers and bool(request.headers.get(BOT_ID_HEADER))


async def authenticate_bot(request: web.Request) -> Bot:
    """The bot behind a server-side key, or a browser's public id from an allowed origin."""
    credentials = _bearer(request)
    if credentials is not None:
        if not credentials.startswith(SECRET_PREFIX):
            raise Unauthorized("this call needs the bot's secret key", code="invalid_key")
        # Read each time: a rotated key stops working at once.
        async with request.app[keys.DATABASE].lookup() as conn:
            bot = _usable(await bot_by_secret(credentials, conn=conn))
        check_origin(request, bot)
        bind(bot=bot.id)
        return bot
    public_id = request.headers.get(BOT_ID_HEADER)
    if public_id:
        known = await request.app[keys.BOTS].by_id(public_id)
        if known is None:
            raise Unauthorized(f"unknown bot {public_id!r}", code="invalid_key")
        bot = _usable(known)
        check_origin(request, bot, required=True)
        bind(bot=bot.id)
        return bot
    raise Unauthorized(
        f"authenticate with 'Authorization: Bearer <secret key>' or '{BOT_ID_HEADER}'",
        code="missing_auth",
    )


def _credentials(request: web.Request, *, query_token: bool) -> str:
    credentials = _bearer(request)
    if credentials is None and query_token:
        credentials = request.query.get("token")
    if not credentials:
        raise Unauthorized(
            "authenticate with the conversation token or the bot's secret key",
            code="missing_auth",
        )
    return credentials


async def _token_bot(request: web.Request, credentials: str, conversation_id: str) -> str:
    """The bot a conversation token speaks for, once its signature, scope, expiry and bot
    are checked (no database read: the token is signed, the bot is the directory's)."""
    claims = request.app[keys.TOKENS].verify(credentials, request.app[keys.CLOCK].now())
    if claims.conversation_id != conversation_id:
        raise Forbidden("this token is for another conversation", code="token_scope")
    check_origin(request, _usable(await request.app[keys.BOTS].by_id(claims.bot_id)))
    return claims.bot_id


async def authorize_stream(request: web.Request) -> str:
    """The URL's conversation id, if the caller may follow it. With a token, a conversation
    whose log this process knows costs no database read (a stream resuming)."""
    conversation_id = request.match_info["conversation_id"]
    credentials = _credentials(request, query_token=True)
    if credentials.startswith(TOKEN_PREFIX):
        bot_id = await _token_bot(request, credentials, conversation_id)
        if not request.app[keys.BUS].knows(conversation_id):
            async with request.app[keys.DATABASE].lookup() as conn:
                conversation = await get_conversation(conversation_id, conn=conn)
            if conversation is None or conversation.bot_id != bot_id:
                raise NotFound(f"conversation {conversation_id!r} does not exist")
        bind(conversation=conversation_id, bot=bot_id)
        return conversation_id
    return (await authorize_conversation(request, conversation_id, query_token=True)).id


async def authorize_conversation(
    request: web.Request, conversation_id: str | None = None, *, query_token: bool = False
) -> Conversation:
    """The conversation (of the URL by default), if the caller may see it: its token, or the
    key of the bot that owns it."""
    if conversation_id is None:
        conversation_id = request.match_info["conversation_id"]
    credentials = _credentials(request, query_token=query_token)
    database = request.app[keys.DATABASE]
    if credentials.startswith(TOKEN_PREFIX):
        bot_id = await _token_bot(request, credentials, conversation_id)
        async with database.lookup() as conn:
            conversation = await get_conversation(conversation_id, conn=conn)
        if conversation is None or conversation.bot_id != bot_id:
            raise NotFound(f"conversation {conversation_id!r} does not exist")
        bind(conversation=conversation.id, bot=conversation.bot_id)
        return conversation
    if credentials.startswith(SECRET_PREFIX):
        async with database.lookup() as conn:
            bot = _usable(await bot_by_secret(credentials, conn=conn))
            conversation = await get_conversation(conversation_id, conn=conn)
        check_origin(request, bot)
        if conversation is None or conversation.bot_id != bot.id:
            # Another bot's conversation is answered like a missing one: ids are not probed.
            raise NotFound(f"conversation {conversation_id!r} does not exist")
        bind(conversation=conversation.id, bot=conversation.bot_id)
        return conversation
    raise Unauthorized(
        "the credentials are neither a conversation token nor a bot key", code="invalid_auth"
    )
