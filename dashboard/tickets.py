"""Tickets: the conversations an offline step (the email provider) turned into tickets,
with their status and the replies that came back, searchable by user and by date. Every
agent may read them (a ticket is nobody's chat); the replies show on its page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from dashboard.forms import text, wants_json
from dashboard.presenters import ticket_row
from dashboard.render import page
from dashboard.sessions import Signed, signed_in
from hub import keys
from hub.errors import Invalid
from hub.store.tickets import find_tickets

routes = web.RouteTableDef()
SHOWN = 100
SEARCH_LIMIT = 200
DATE_LIMIT = 20


def _day(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name}: {value[:40]!r} is not a date like 2026-11-23") from None


def _search(request: web.Request) -> dict[str, str]:
    """The search as asked; 422 for a field too long (the text rules ran before)."""
    query = request.query
    return {
        "user": text(query, "user", limit=SEARCH_LIMIT, required=False),
        "from": text(query, "from", limit=DATE_LIMIT, required=False),
        "to": text(query, "to", limit=DATE_LIMIT, required=False),
    }


async def tickets_state(request: web.Request, search: dict[str, str]) -> dict[str, Any]:
    first = _day(search["from"], "from")
    last = _day(search["to"], "to")
    if first is not None and last is not None and last < first:
        raise Invalid("to: the last day is before the first")
    since = datetime.combine(first, time(), UTC) if first else None
    before = datetime.combine(last + timedelta(days=1), time(), UTC) if last else None
    hub = request.config_dict
    async with hub[keys.DATABASE].read() as conn:
        found = await find_tickets(
            conn=conn, user=search["user"] or None, since=since, before=before, limit=SHOWN + 1
        )
    return {
        "tickets": [ticket_row(request, item) for item in found[:SHOWN]],
        "more": len(found) > SHOWN,
        "search": search,
        "searched": any(search.values()),
    }


@routes.get("/tickets", name="tickets")
@signed_in
async def tickets(request: web.Request, signed: Signed) -> web.StreamResponse:
    try:
        search = _search(request)
        state = await tickets_state(request, search)
    except Invalid as exc:
        if wants_json(request):
            raise
        search = {key: request.query.get(key, "")[:SEARCH_LIMIT] for key in ("user", "from", "to")}
        state = {"tickets": [], "more": False, "search": search, "searched": True}
        return page(request, signed, "tickets.html", {**state, "error": exc.message}, status=422)
    if wants_json(request):
        return web.json_response(state)
    return page(request, signed, "tickets.html", state)
