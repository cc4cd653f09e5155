"""The inbound route, ``POST /providers/<instance>/inbound``: agents' replies come in.

An inbound-mail service posts each email it receives for the ``reply_to`` address, either
as the raw message (``Content-Type: message/rfc822``, ``text/plain`` or
``application/octet-stream``) or as a form with the raw message in the ``email`` field
(SendGrid Inbound Parse with "POST the raw, full MIME message"; ``message`` and Mailgun's
``body-mime`` are read too).

The request carries the instance's ``inbound_secret`` as ``Authorization: Bearer <secret>``,
as the password of HTTP Basic auth (credentials in the URL), or as ``?secret=`` (for
services that can only be given a URL; it then appears in access logs). Every answer is
JSON: 200 ``accepted`` or ``ignored`` (auto-replies, our own mail, the customer's own
messages), 401 bad secret, 400/422 not a usable email, 404 not a ticket of this instance,
409 the conversation is over, 413 too large, 415 unsupported body. A bad request changes
nothing. (Inbound services retry 4xx and 5xx answers for a while, as they do any failure.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam
from pydantic import SecretStr

from providers import Agent, ConversationEnded, ProviderContext, UnknownConversation
from providers.email import references
from providers.email.memory import Memory
from providers.email.replies import ReplyError, parse_reply, text_to_html
from providers.errors import error_response

RAW_TYPES = frozenset({"message/rfc822", "text/plain", "application/octet-stream"})
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
FORM_FIELDS = ("email", "message", "body-mime")
# aiohttp warns of these (they are errors where warnings are, as in the tests).
BAD_DISPOSITION = (BadContentDispositionHeader, BadContentDispositionParam)


def _presented_secrets(request: web.Request) -> list[str]:
    presented = []
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        presented.append(value.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        presented.append(decoded.partition(":")[2])
    if "secret" in request.query:
        presented.append(request.query["secret"])
    return presented


def agent_of(name: str, address: str, fixed_name: str | None) -> Agent:
    """The agent a reply is from: known by their address (hashed when too long to keep)."""
    agent_id = f"email:{address}"
    if len(agent_id) > 100:
        agent_id = "email:" + hashlib.sha256(address.encode()).hexdigest()[:32]
    return Agent(id=agent_id, name=fixed_name or name)


class InboundMail:
    def __init__(
        self,
        *,
        secret: SecretStr,
        max_bytes: int,
        domain: str,
        ticket_prefix: str,
        own_addresses: frozenset[str],
        agent_name: str | None,
        context: ProviderContext,
        memory: Memory,
    ) -> None:
        self.secret = secret.get_secret_value().encode()
        self.max_bytes = max_bytes
        self.domain = domain
        self.ticket_prefix = ticket_prefix
        self.own_addresses = own_addresses
        self.agent_name = agent_name
        self.context = context
        self.memory = memory
        self.log: logging.Logger = context.logger

    def authorized(self, request: web.Request) -> bool:
        matches = [
            hmac.compare_digest(candidate.encode(), self.secret)
            for candidate in _presented_secrets(request)
        ]
        return any(matches)

    async def _raw(self, request: web.Request) -> bytes:
        too_large = ReplyError(
            413, "too_large", f"the message is larger than {self.max_bytes} bytes"
        )
        if request.content_length is not None and request.content_length > self.max_bytes:
            raise too_large
        content_type = request.content_type
        if content_type in FORM_TYPES:
            try:
                form = await request.post()
            except (UnicodeDecodeError, ValueError, HttpProcessingError, *BAD_DISPOSITION) as exc:
                raise ReplyError(400, "bad_request", f"the form cannot be read: {exc}") from None
            for name in FORM_FIELDS:
                value = form.get(name)
                if isinstance(value, str):
                    raw = value.encode("utf-8", "surrogateescape")
                    break
                if isinstance(value, web.FileField):
                    raw = value.file.read()
                    break
            else:
                fields = ", ".join(FORM_FIELDS)
                raise ReplyError(400, "bad_request", f"the form has none of the fields {fields}")
        elif content_type in RAW_TYPES:
            chunks = bytearray()
            async for chunk in request.content.iter_chunked(64 * 1024):
                chunks += chunk
                if len(chunks) > self.max_bytes:
                    raise too_large
            raw = bytes(chunks)
        else:
            raise ReplyError(
                415,
                "unsupported_media_type",
                "post the raw message as message/rfc822, or a form with an 'email' field",
            )
        if len(raw) > self.max_bytes:
            raise too_large
        return raw

    def _conversation(self, conversation_id: str | None, ticket: str | None) -> str | None:
        if conversation_id is not None or ticket is None:
            return conversation_id
        return self.memory.tickets.get(ticket) or references.conversation_of_ticket(
            ticket, self.ticket_prefix
        )

    async def handle(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return error_response(
                401,
                "unauthorized",
                "a valid inbound secret is required",
                headers={"WWW-Authenticate": 'Basic realm="inbound mail"'},
            )
        try:
            reply = parse_reply(
                await self._raw(request), domain=self.domain, ticket_prefix=self.ticket_prefix
            )
        except ReplyError as exc:
            self.log.warning("inbound mail refused (%s): %s", exc.status, exc.message)
            return error_response(exc.status, exc.code, exc.message)
        if reply.automatic is not None:
            return web.json_response({"status": "ignored", "reason": reply.automatic})
        if reply.sender_address in self.own_addresses:
            return web.json_response({"status": "ignored", "reason": "sent by this hub"})
        conversation_id = self._conversation(reply.conversation_id, reply.ticket_id)
        if conversation_id is None:
            return error_response(
                404,
                "unknown_conversation",
                "the message does not answer a ticket of this provider "
                "(no matching In-Reply-To, References or subject tag)",
            )
        thread = self.memory.threads.get(conversation_id)
        if thread is not None and thread.user_address == reply.sender_address:
            return web.json_response({"status": "ignored", "reason": "sent by the customer"})
        if not reply.text:
            return error_response(
                422, "empty_reply", "the reply has no new text above the quoted history"
            )
        agent = agent_of(reply.sender_name, reply.sender_address, self.agent_name)
        try:
            # A late reply (the chat ended meanwhile) is recorded where agents see it.
            message_id = await self.context.agent_message(
                conversation_id,
                text_to_html(reply.text),
                agent=agent,
                event_id=reply.event_id,
                record_if_ended=True,
            )
        except UnknownConversation:
            return error_response(
                404, "unknown_conversation", f"no conversation {conversation_id} with this provider"
            )
        except ConversationEnded:
            return error_response(
                409, "conversation_ended", f"conversation {conversation_id} has ended"
            )
        self.log.info("reply from %s recorded on %s", reply.sender_address, conversation_id)
        return web.json_response(
            {"status": "accepted", "conversationId": conversation_id, "messageId": message_id}
        )
