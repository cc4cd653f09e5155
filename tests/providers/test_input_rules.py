"""``providers.input_rules``: the text and JSON rules every inbound path reads through, and
the webhook bridge's and the email inbound route's use of them (through a real hub, on
SQLite and PostgreSQL: each refusal changes nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from providers.email.replies import ReplyError, parse_reply
from providers.input_rules import MAX_DEPTH, InputError, PageUrl, Text, loads, page_url
from providers.webhook import incoming
from tests.hub.test_bad_input import database_state, expect_error


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b'{"a": "x\\ud800"}', "invalid_text", "a"),
        (b'{"a": ["ok", "a\\u0000b"]}', "invalid_text", "a.1"),
        (b'{"a\\u0000": 1}', "invalid_text", ""),
        (b'{"a": {"b": "\\udc00"}}', "invalid_text", "a.b"),
        ('{"a": "\ud800"}', "invalid_text", "a"),  # a str that already holds one
        (b'{"a": 1, "a": 2}', "duplicate_key", ""),
        (b'{"a": NaN}', "invalid_number", ""),
        (b'{"a": Infinity}', "invalid_number", ""),
        (b'{"a": 1e400}', "invalid_number", ""),
        (b"[" * 33 + b"]" * 33, "too_deep", ".".join(["0"] * 32)),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep", ""),
        (b'{"a": "\xed\xa0\x80"}', "invalid_json", ""),  # an encoded surrogate is not UTF-8
        (b"{nope", "invalid_json", ""),
    ],
)
def test_loads_refuses_naming_the_field(raw, code, field):
    with pytest.raises(InputError) as refused:
        loads(raw)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert str(refused.value).startswith(f"{field}: " if field else "")


def test_loads_takes_what_is_fine():
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert loads('{"smile": "\\ud83d\\ude00", "é": 1.5, "n": null}') == {
        "smile": "\U0001f600",
        "é": 1.5,
        "n": None,
    }
    big = 123456789012345678901234567890
    assert loads(f'{{"big": {big}}}') == {"big": big}


def test_the_pydantic_types():
    class Profile(BaseModel):
        name: Text
        icon: PageUrl | None = None

    assert Profile(name="Ana", icon="https://cdn.example/a.png").icon == "https://cdn.example/a.png"
    for bad in (
        {"name": "a\x00b"},
        {"name": "a\udc80"},
        {"name": "Ana", "icon": "javascript:alert(1)"},
        {"name": "Ana", "icon": "data:image/png;base64,AAAA"},
        {"name": "Ana", "icon": "https:// evil"},
        {"name": "Ana", "icon": "//cdn.example/a.png"},
        {"name": "Ana", "icon": "https://" + "a" * 2000 + ".example"},
    ):
        with pytest.raises(ValidationError):
            Profile.model_validate(bad)
    with pytest.raises(ValueError):
        page_url("JAVASCRIPT:alert(1)")
    assert page_url("HTTP://Example.com/x?y=1") == "HTTP://Example.com/x?y=1"


# -- the webhook bridge ---------------------------------------------------------------------


@pytest.fixture
async def bridged(hub_factory, platform):
    hub = await hub_factory(
        providers={"partner": {"type": "webhook", **platform.config()}},
        queues=[{"name": "support", "chain": ["partner"]}],
    )
    cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
    await hub.settled()
    return hub, cid


def event(event_id: str, event_type: str, cid: str, **data: Any) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "conversation": {"id": cid}, "data": data}


async def test_webhook_events_that_break_the_rules(bridged, platform):
    hub, cid = bridged
    before = await database_state(hub)
    agent = {"id": "a1", "name": "Ana"}
    cases: list[tuple[bytes, int, str, str]] = [
        (
            json.dumps(event("e1", "agent.joined", cid, agent={"id": "a1", "name": "A\x00"})),
            400,
            "invalid_text",
            "data.agent.name: contains a NUL character",
        ),
        (
            json.dumps(event("e2", "agent.message", cid, html="hi \ud800", agent=agent)),
            400,
            "invalid_text",
            "data.html",
        ),
        (
            json.dumps(
                event("e3", "agent.joined", cid, agent={**agent, "iconUrl": "javascript:alert(1)"})
            ),
            422,
            "invalid_event",
            "data.agent.iconUrl: must be an http(s) URL",
        ),
        (
            json.dumps(event("e4", "agent.typing", cid, typing=True)).replace(
                '"typing": true', '"typing": true, "typing": false'
            ),
            400,
            "duplicate_key",
            "'typing' appears twice",
        ),
        (
            json.dumps(event("e5", "agent.message", cid, html="x")).replace(
                '"x"', "[" * 5000 + "]" * 5000
            ),
            400,
            "too_deep",
            "nested deeper than 32 levels",
        ),
        (
            json.dumps(event("e6", "queue.position", cid, estimatedWaitSeconds=1)).replace(
                "1}", "NaN}"
            ),
            400,
            "invalid_number",
            "NaN",
        ),
    ]
    for raw, status, code, words in cases:
        body = raw.encode() if isinstance(raw, str) else raw
        response = await hub.client.post(
            "/providers/partner/events", data=body, headers=platform.signed_body(body)
        )
        error = await expect_error(response, status, code)
        assert words in error["message"], error
    assert await database_state(hub) == before


def test_decode_is_the_webhook_bridges_reader():
    """What the batch POST and the WebSocket ingress call for each body or frame."""
    payload = incoming.decode(json.dumps(event("e1", "agent.typing", "c_1", typing=True)))
    assert incoming.parse(payload, None).type == "agent.typing"
    with pytest.raises(incoming.InputError) as refused:
        incoming.decode('{"id": "e1", "id": "e2"}')
    assert refused.value.code == "duplicate_key"


# -- email replies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            b"From: Ana <ana@partner.example>\r\nSubject: Re: [#T-1]\r\n\r\nhello\x00there\r\n",
            "text",
        ),
        (
            b"From: Ana \xff <ana@partner.example>\r\nSubject: Re: [#T-1]\r\n\r\nhi\r\n",
            "sender_name",
        ),
    ],
)
def test_an_email_reply_must_be_storable_text(raw, field):
    with pytest.raises(ReplyError) as refused:
        parse_reply(raw, domain="hub.example", ticket_prefix="T")
    assert (refused.value.status, refused.value.code) == (400, "invalid_text")
    assert refused.value.message.startswith(f"{field}: ")
