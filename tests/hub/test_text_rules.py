"""The text rules at the edge, on SQLite and PostgreSQL: every string of every request is
text a database can store (no lone surrogate, no NUL), JSON is at most 32 levels deep with
no key twice and only finite numbers, multipart bodies that cannot be read are a 400,
booleans and numbers are strict, lists are bounded. Each bad input gets its 4xx naming
the field and changes nothing; valid requests beside it lose nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.hub.chatlayer_api import (
    SESSION,
    VERIFY_TOKEN,
    FakeChatlayer,
    messages,
    offload,
    user_says,
)
from tests.hub.test_bad_input import database_state, expect_error
from tests.hub.test_chatlayer import chatlayer_hub

TIME_LIMIT = 30
SURROGATE = "a\ud800b"  # json.dumps writes it as the escape "\ud800"
NUL = "a\x00b"


def deep(levels: int, leaf: str = "1") -> str:
    return "[" * levels + leaf + "]" * levels


async def post_raw(hub, path: str, body: bytes | str, headers: dict[str, str]):
    return await hub.client.post(
        path, data=body, headers={**headers, "Content-Type": "application/json"}
    )


ESCALATIONS = [
    ("surrogate in inquiry", {"sessionId": "s", "inquiry": SURROGATE}, "invalid_text", "inquiry"),
    ("NUL in sessionId", {"sessionId": NUL}, "invalid_text", "sessionId"),
    ("NUL in inquiry", {"sessionId": "s", "inquiry": NUL}, "invalid_text", "inquiry"),
    (
        "surrogate in a transcript line",
        {"sessionId": "s", "transcript": [{"user": "guest", "message": SURROGATE}]},
        "invalid_text",
        "transcript.0.message",
    ),
    ("NUL in a user name", {"sessionId": "s", "user": {"name": NUL}}, "invalid_text", "user.name"),
    ("NUL in a data key", {"sessionId": "s", "data": {NUL: 1}}, "invalid_text", "data"),
    ("NaN in data", '{"sessionId": "s", "data": {"x": NaN}}', "invalid_number", None),
    ("Infinity in data", '{"sessionId": "s", "data": {"x": -Infinity}}', "invalid_number", None),
    ("1e999 in data", '{"sessionId": "s", "data": {"x": 1e999}}', "invalid_number", None),
    (
        "data nested 900 deep",
        '{"sessionId": "s", "data": {"x": ' + deep(900) + "}}",
        "too_deep",
        "data.x" + ".0" * 30,  # the first level past 32
    ),
    (
        "data nested 5000 deep",
        '{"sessionId": "s", "data": {"x": ' + deep(5000) + "}}",
        "too_deep",
        None,  # past what the decoder follows: the body as a whole
    ),
    (
        "data nested 33 deep",
        '{"sessionId": "s", "data": {"x": ' + deep(31) + "}}",
        "too_deep",
        "data.x" + ".0" * 30,
    ),
    ("a key twice", '{"sessionId": "s", "sessionId": "t"}', "duplicate_key", None),
    ("a data key twice", '{"sessionId": "s", "data": {"a": 1, "a": 2}}', "duplicate_key", None),
    ("not UTF-8", b'{"sessionId": "\xed\xa0\x80"}', "invalid_json", None),
]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [case[1:] for case in ESCALATIONS],
    ids=[case[0] for case in ESCALATIONS],
)
async def test_escalations_that_break_the_text_rules(hub, body, code, field):
    before = await database_state(hub)
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    response = await post_raw(hub, "/v1/escalations", raw, hub.chatbot.key_headers)
    error = await expect_error(response, 400, code)
    assert error.get("field") == field, error
    if field is not None:
        assert error["message"].startswith(f"{field}: ")
    assert await database_state(hub) == before


async def test_thirty_two_levels_are_accepted(hub):
    body = '{"sessionId": "s", "data": {"x": ' + deep(30) + "}}"  # 32 with the two objects
    response = await post_raw(hub, "/v1/escalations", body, hub.chatbot.key_headers)
    assert response.status == 201, await response.text()


@pytest.fixture
async def conversation(hub) -> str:
    answer = await hub.chatbot.escalate(expect=201)
    await hub.settled()
    return answer["conversationId"]


CONVERSATION_CASES = [
    ("messages", {"id": "c1", "message": SURROGATE}, 400, "invalid_text"),
    ("messages", {"id": "c1", "message": NUL}, 400, "invalid_text"),
    ("messages", {"id": NUL, "message": "hi"}, 400, "invalid_text"),
    ("messages", '{"id": "c1", "message": ' + deep(5000, '"x"') + "}", 400, "too_deep"),
    ("messages", '{"id": "c1", "id": "c2", "message": "hi"}', 400, "duplicate_key"),
    ("rating", {"value": "5", "comment": SURROGATE}, 400, "invalid_text"),
    ("rating", {"value": False}, 422, "validation_error"),
    ("rating", {"value": 4.5}, 422, "validation_error"),
    ("close", {"reason": NUL}, 400, "invalid_text"),
    ("typing", {"typing": "yes"}, 422, "validation_error"),
    ("typing", {"typing": 1}, 422, "validation_error"),
    ("read", {"upTo": NUL}, 400, "invalid_text"),
]


@pytest.mark.parametrize(
    ("action", "body", "status", "code"),
    CONVERSATION_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CONVERSATION_CASES)],
)
async def test_conversation_calls_that_break_the_rules(
    hub, conversation, action, body, status, code
):
    before = await database_state(hub)
    raw = body if isinstance(body, str) else json.dumps(body)
    response = await post_raw(
        hub,
        f"/v1/conversations/{conversation}/{action}",
        raw,
        hub.chatbot.token_headers(conversation),
    )
    await expect_error(response, status, code)
    assert await database_state(hub) == before


async def test_bad_text_costs_concurrent_valid_messages_nothing(hub):
    async with asyncio.timeout(TIME_LIMIT):
        chatbot = hub.chatbot
        a = (await chatbot.escalate("a", expect=201))["conversationId"]
        b = (await chatbot.escalate("b", expect=201))["conversationId"]
        await hub.settled()

        async def bad(n: int) -> int:
            body = {"id": f"p{n}", "message": SURROGATE if n % 2 else NUL}
            response = await hub.client.post(
                f"/v1/conversations/{a}/messages", json=body, headers=chatbot.token_headers(a)
            )
            return response.status

        async def good(n: int) -> int:
            response = await hub.client.post(
                f"/v1/conversations/{b}/messages",
                json={"id": f"ok{n}", "message": f"message {n}"},
                headers=chatbot.token_headers(b),
            )
            return response.status

        statuses = await asyncio.gather(*[bad(n) for n in range(10)], *[good(n) for n in range(30)])
        assert statuses == [400] * 10 + [201] * 30
        stored = [
            e["data"]["id"]
            for e in await chatbot.events(b)
            if e["action"] == "updateMessage" and e["data"]["action"] == "UPDATE_EXTERNAL"
        ]
        assert sorted(stored) == sorted(f"ok{n}" for n in range(30))
        assert not any(
            e["action"] == "updateMessage" and e["data"].get("action") == "UPDATE_EXTERNAL"
            for e in await chatbot.events(a)
        )
        await hub.settled()


async def test_availability_bounds_its_skills(hub):
    headers = hub.chatbot.key_headers
    many = ",".join(f"skill{n}" for n in range(21))
    error = await expect_error(
        await hub.client.get("/v1/availability", params={"skills": many}, headers=headers), 422
    )
    assert "skills" in error["message"]
    long = "x" * 101
    await expect_error(
        await hub.client.get("/v1/availability", params={"skills": long}, headers=headers), 422
    )
    ok = await hub.client.get(
        "/v1/availability", params={"skills": ",".join(["a"] * 20)}, headers=headers
    )
    assert ok.status == 200


async def test_query_strings_paths_and_headers_follow_the_rules(hub, conversation):
    before = await database_state(hub)
    headers = hub.chatbot.key_headers
    error = await expect_error(
        await hub.client.get("/v1/availability?queue=a%00b", headers=headers), 400, "invalid_text"
    )
    assert error["field"] == "queue"
    error = await expect_error(
        await hub.client.get("/v1/conversations/c_a%00b", headers=headers), 400, "invalid_text"
    )
    assert error["field"] == "conversation_id"
    # A header byte that is not UTF-8 reaches the hub as a lone surrogate.
    status, answer = await raw_request(
        hub,
        b"POST /v1/escalations HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {hub.chatbot.secret}\r\n".encode()
        + b"Idempotency-Key: key-\xff\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
        + b'{"sessionId":"x"}',
    )
    assert status == 400
    assert answer["error"]["code"] == "invalid_text"
    assert answer["error"]["field"] == "Idempotency-Key"
    assert await database_state(hub) == before


async def raw_request(hub, request: bytes) -> tuple[int, Any]:
    """Bytes no HTTP client library would send, and the hub's answer."""
    server = hub.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


BOUNDARY = "hub-boundary"
PNG = 'Content-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png'


def multipart(*parts: bytes) -> bytes:
    edge = b"--" + BOUNDARY.encode()
    return b"".join(edge + b"\r\n" + part + b"\r\n" for part in parts) + edge + b"--\r\n"


MULTIPART_CASES = [
    (
        "a control character in a part header",
        multipart(PNG.encode() + b"\r\nX-Note: a\x01b\r\n\r\nPNG"),
        "invalid_multipart",
    ),
    (
        "NUL in the file name",
        multipart(PNG.replace("a.png", "a\x00.png").encode() + b"\r\n\r\nPNG"),
        "invalid_multipart",
    ),
    (
        "an undecodable file name",
        multipart(
            b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%ED%A0%80.png"
            b"\r\nContent-Type: image/png\r\n\r\nPNG"
        ),
        "invalid_multipart",
    ),
    (
        "a header without a colon",
        multipart(PNG.replace("Content-Type:", "Content-Type").encode() + b"\r\n\r\nPNG"),
        "invalid_multipart",
    ),
    (
        "NUL in the message id",
        multipart(
            PNG.encode() + b"\r\n\r\nPNG",
            b'Content-Disposition: form-data; name="id"\r\n\r\na\x00b',
        ),
        "invalid_text",
    ),
    (
        "a text field that is not UTF-8",
        multipart(
            PNG.encode() + b"\r\n\r\nPNG",
            b'Content-Disposition: form-data; name="message"\r\n\r\n\xff',
        ),
        "invalid_text",
    ),
    ("a body that ends early", multipart(PNG.encode() + b"\r\n\r\nPNG")[:-20], "invalid_multipart"),
]


@pytest.mark.parametrize(
    ("body", "code"), [c[1:] for c in MULTIPART_CASES], ids=[c[0] for c in MULTIPART_CASES]
)
async def test_malformed_multipart_is_a_400(hub, conversation, body, code):
    before = await database_state(hub)
    response = await hub.client.post(
        f"/v1/conversations/{conversation}/media",
        data=body,
        headers={
            **hub.chatbot.token_headers(conversation),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    await expect_error(response, 400, code)
    assert await database_state(hub) == before


@pytest.fixture
async def chatlayer(hub_factory):
    fake = FakeChatlayer()
    await fake.start()
    yield await chatlayer_hub(hub_factory, fake)
    await fake.stop()


CHATLAYER_CASES = [
    ("NUL in sessionId", json.dumps(offload(session=NUL)), "invalid_text", "sessionId"),
    (
        "a surrogate in a message",
        json.dumps(messages(SESSION, user_says(SESSION, SURROGATE, "m1", "2021-11-15T08:40Z"))),
        "invalid_text",
        "messages.0.message.text",
    ),
    (
        "a payload nested 5000 deep",
        json.dumps(offload(payload={"x": 1})).replace('{"x": 1}', '{"x": ' + deep(5000) + "}"),
        "too_deep",
        None,
    ),
]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [c[1:] for c in CHATLAYER_CASES],
    ids=[c[0] for c in CHATLAYER_CASES],
)
async def test_chatlayer_events_that_break_the_rules(chatlayer, body, code, field):
    before = await database_state(chatlayer)
    response = await chatlayer.client.post(
        "/v1/chatlayer/shop",
        params={"challenge.verifyToken": VERIFY_TOKEN},
        data=body,
        headers={"Content-Type": "application/json"},
    )
    error = await expect_error(response, 400, code)
    assert error.get("field") == field
    assert await database_state(chatlayer) == before
