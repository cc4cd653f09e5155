"""The routes the platform calls, mounted under ``/providers/{instance}/``:

- ``POST /events``: one signed event;
- ``POST /events/batch``: a signed ``{"events": [...]}``, answered event by event;
- ``GET /events/stream``: a WebSocket, signed at the handshake, where the platform sends
  events as frames (an event, or an array of events) and gets each acknowledged by its id
  once it is stored;
- ``GET /media/{id}``: the user's files, by signed link.

Every refusal is ``{"error": {"code", "message"}}`` and changes nothing: the signature
is checked on the raw bytes before anything is parsed, and an event is fully validated
before the hub is told anything. In a batch or on the stream, each event is answered on
its own: one refused event costs the others nothing. Events of one conversation are
applied in the order they were sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from functools import partial
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from providers.context import ProviderContext
from providers.errors import (
    ConversationEnded,
    UnknownConversation,
    error_body,
    error_response,
)
from providers.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, SignatureError, verify
from providers.webhook import incoming
from providers.webhook.config import WebhookConfig
from providers.webhook.media_links import link_is_valid


class TooLarge(Exception):
    pass


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing one larger than ``limit`` bytes without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


class Endpoint:
    """The inbound routes of one webhook instance."""

    def __init__(self, instance: str, config: WebhookConfig, context: ProviderContext) -> None:
        self.instance = instance
        self.config = config
        self.context = context

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/events", self.events),
            web.post("/events/batch", self.batch),
            web.get("/events/stream", self.stream),
            web.get("/media/{media_id}", self.media),
        ]

    @property
    def stream_path(self) -> str:
        """What the platform signs to open the stream (its "body"): the stream's path as
        the hub names it, whatever a proxy in between makes of it."""
        return f"/providers/{self.instance}/events/stream"

    async def _signed_payload(self, request: web.Request) -> Any:
        """The decoded JSON, once its size and signature are checked; else the refusal
        (a web.Response)."""
        body = await self._signed_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            return incoming.decode(body)
        except incoming.InputError as exc:
            return error_response(400, exc.code, str(exc))

    async def _signed_body(self, request: web.Request) -> bytes | web.Response:
        try:
            body = await read_body(request, self.config.max_event_bytes)
        except TooLarge:
            return error_response(
                413, "too_large", f"events are limited to {self.config.max_event_bytes} bytes"
            )
        try:
            verify(self.config.secrets, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            return error_response(401, f"signature_{exc.problem}", str(exc))
        return body

    async def events(self, request: web.Request) -> web.Response:
        payload = await self._signed_payload(request)
        if isinstance(payload, web.Response):
            return payload
        try:
            event = incoming.parse(payload, request.headers.get(EVENT_ID_HEADER))
        except incoming.Invalid as exc:
            return error_response(422, "invalid_event", str(exc))
        status, answer = await self._apply(event)
        return web.json_response(answer, status=status)

    async def _apply(self, event: incoming.Incoming) -> tuple[int, dict[str, Any]]:
        """Tell the hub of one valid event: the answer's status and body."""
        try:
            result = await event.start(self.context)
        except Exception as exc:
            return self._outcome(event, exc)
        return self._outcome(event, result)

    def _outcome(self, event: incoming.Incoming, result: Any) -> tuple[int, dict[str, Any]]:
        """What the context said of an event, as an answer (an unexpected error is raised
        again: it is the hub's fault, not the platform's)."""
        if isinstance(result, UnknownConversation):
            return 404, error_body("unknown_conversation", str(result))
        if isinstance(result, ConversationEnded):
            return 409, error_body("conversation_ended", str(result))
        if isinstance(result, ValueError):  # incoming.Invalid, or what the hub refuses
            return 422, error_body("invalid_event", str(result))
        if isinstance(result, BaseException):
            raise result
        self.context.logger.debug(
            "event %s (%s) for %s", event.id, event.type, event.conversation_id
        )
        return 200, {"ok": True, "id": event.id, **event.answer(result)}

    async def _apply_all(self, items: list[Any]) -> list[dict[str, Any]]:
        """Validate and apply a list of decoded events; one result each, in order."""
        results: list[dict[str, Any] | None] = [None] * len(items)
        lanes: dict[str, list[tuple[int, incoming.Incoming]]] = {}
        for index, item in enumerate(items):
            try:
                event = incoming.parse(item, None)
            except incoming.Invalid as exc:
                item_id = item.get("id") if isinstance(item, dict) else None
                results[index] = _result(
                    item_id if isinstance(item_id, str) else None,
                    422,
                    error_body("invalid_event", str(exc)),
                )
                continue
            lanes.setdefault(event.conversation_id, []).append((index, event))

        async def run(group: list[tuple[int, incoming.Incoming]]) -> None:
            # Started in order, then waited for together: they share the hub's batches.
            started: list[Awaitable[Any]] = []
            for _, event in group:
                try:
                    started.append(event.start(self.context))
                except Exception as exc:
                    started.append(_failed(exc))
            outcomes = await asyncio.gather(*started, return_exceptions=True)
            for (index, event), outcome in zip(group, outcomes, strict=True):
                try:
                    status, answer = self._outcome(event, outcome)
                except Exception:
                    self.context.logger.exception("event %s failed in the hub", event.id)
                    status, answer = 500, error_body("internal_error", "the hub failed to take it")
                results[index] = _result(event.id, status, answer)

        # One conversation's events start in the order they came. An event of more than
        # one step (an agent file, stored first) starts after the simple events before it
        # and ends its lane's round: what follows it waits for the next round.
        waiting = [list(events) for events in lanes.values()]
        while waiting:
            simple: list[tuple[int, incoming.Incoming]] = []
            alone: list[tuple[int, incoming.Incoming]] = []
            still = []
            for events in waiting:
                while events and events[0][1].steps == 1:
                    simple.append(events.pop(0))
                if events:
                    alone.append(events.pop(0))
                if events:
                    still.append(events)
            await asyncio.gather(run(simple), *(run([one]) for one in alone))
            waiting = still
        return [result for result in results if result is not None]

    async def batch(self, request: web.Request) -> web.Response:
        payload = await self._signed_payload(request)
        if isinstance(payload, web.Response):
            return payload
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            return error_response(422, "invalid_batch", 'the body must be {"events": [...]}')
        limit = self.config.max_batch_events
        if len(events) > limit:
            return error_response(
                413, "too_many_events", f"a batch takes at most {limit} events, not {len(events)}"
            )
        return web.json_response({"results": await self._apply_all(events)})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        try:
            verify(
                self.config.secrets,
                self.stream_path.encode(),
                request.headers.get(SIGNATURE_HEADER),
            )
        except SignatureError as exc:
            return error_response(401, f"signature_{exc.problem}", str(exc))
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=self.config.max_event_bytes)
        await ws.prepare(request)
        stream = _Stream(ws, self, self.config.max_batch_events)
        await stream.run()
        return ws

    async def media(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        if not link_is_valid(
            self.config.secrets,
            media_id,
            request.query.get("expires", ""),
            request.query.get("signature", ""),
            now=time.time(),
        ):
            return error_response(403, "invalid_link", "this link is not valid, or it has expired")
        try:
            info, content = await self.context.read_media(media_id)
        except UnknownConversation:
            return error_response(404, "not_found", f"no file {media_id!r}")
        return web.Response(
            body=content,
            headers={
                "Content-Type": info.content_type,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=300",
            },
        )


def _failed(exc: BaseException) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


def _result(event_id: str | None, status: int, answer: dict[str, Any]) -> dict[str, Any]:
    """One event's result in a batch or on the stream: ``{"id", "ok", ...}``; a refusal
    carries the ``status`` the single POST would have answered, and its ``error``."""
    if status == 200:
        return answer
    return {"id": event_id, "ok": False, "status": status, **answer}


class _Stream:
    """One platform's WebSocket: frames in, acknowledgements out.

    Frames are taken as they come, without waiting for the previous ones to be stored, so
    many events share the hub's transactions. An event is told to the hub the moment its
    frame is read (in the order of the frames) and answered once stored; answers finished
    together go out in one frame, ``{"acks": [{"id", "ok", ...}, ...]}``. An event of more
    than one step (an agent file) runs as a task, and the later events of its conversation
    wait for it."""

    def __init__(self, ws: web.WebSocketResponse, endpoint: Endpoint, limit: int) -> None:
        self.ws = ws
        self.endpoint = endpoint
        self.limit = limit
        self.acks: list[dict[str, Any]] = []
        self.flushing = False
        self.tasks: set[asyncio.Task[Any]] = set()
        # A conversation's multi-step event in flight: what follows it starts after it.
        self.tails: dict[str, asyncio.Task[Any]] = {}

    async def run(self) -> None:
        async for frame in self.ws:
            if frame.type == web.WSMsgType.TEXT:
                self.take(frame.data)
            elif frame.type == web.WSMsgType.BINARY:
                self.acknowledge(_error_ack("invalid_frame", "send events as text frames"))
            elif frame.type == web.WSMsgType.ERROR:
                break
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def take(self, text: str) -> None:
        try:
            payload = incoming.decode(text)
        except incoming.InputError as exc:
            self.acknowledge(_error_ack(exc.code, str(exc)))
            return
        items = payload if isinstance(payload, list) else [payload]
        if len(items) > self.limit:
            self.acknowledge(
                _error_ack("too_many_events", f"a frame takes at most {self.limit} events")
            )
            return
        for item in items:
            try:
                event = incoming.parse(item, None)
            except incoming.Invalid as exc:
                item_id = item.get("id") if isinstance(item, dict) else None
                self.acknowledge(
                    _result(
                        item_id if isinstance(item_id, str) else None,
                        422,
                        error_body("invalid_event", str(exc)),
                    )
                )
                continue
            tail = self.tails.get(event.conversation_id)
            if tail is None and event.steps == 1:
                self._start(event)
            else:
                self._chain(event, tail)

    def _start(self, event: incoming.Incoming) -> None:
        """Tell the hub now; answer when it is stored."""
        try:
            started = event.start(self.endpoint.context)
        except Exception as exc:
            self._answer(event, exc)
            return
        if not isinstance(started, asyncio.Future):
            started = asyncio.ensure_future(started)
            self.tasks.add(started)
            started.add_done_callback(self.tasks.discard)
        started.add_done_callback(partial(self._settled, event))

    def _settled(self, event: incoming.Incoming, done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        self._answer(event, error if error is not None else done.result())

    def _chain(self, event: incoming.Incoming, tail: asyncio.Task[Any] | None) -> None:
        """A multi-step event, or one behind one: a task that waits for its turn."""

        async def turn() -> None:
            if tail is not None:
                await asyncio.gather(tail, return_exceptions=True)
            try:
                outcome = await event.start(self.endpoint.context)
            except Exception as exc:
                outcome = exc
            self._answer(event, outcome)

        task = asyncio.ensure_future(turn())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        conversation_id = event.conversation_id
        self.tails[conversation_id] = task
        task.add_done_callback(partial(self._forget, conversation_id))

    def _forget(self, conversation_id: str, task: asyncio.Task[Any]) -> None:
        if self.tails.get(conversation_id) is task:
            del self.tails[conversation_id]

    def _answer(self, event: incoming.Incoming, outcome: Any) -> None:
        try:
            status, answer = self.endpoint._outcome(event, outcome)
        except Exception:
            self.endpoint.context.logger.exception("event %s failed in the hub", event.id)
            status, answer = 500, error_body("internal_error", "the hub failed to take it")
        self.acknowledge(_result(event.id, status, answer))

    def acknowledge(self, result: dict[str, Any]) -> None:
        self.acks.append(result)
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flushing = False
        acks, self.acks = self.acks, []
        if acks and not self.ws.closed:
            task = asyncio.ensure_future(self.ws.send_str(orjson.dumps({"acks": acks}).decode()))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def _error_ack(code: str, message: str) -> dict[str, Any]:
    return {"id": None, "ok": False, "status": 400, **error_body(code, message)}
