"""Bad input of every kind gets a clear 4xx error with a message, and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from hub import keys
from tests.support.chatbot import add_bot


async def database_state(hub) -> dict[str, int]:
    """Row counts of every table, and the highest seq: what "changes nothing" compares."""
    counts = {}
    async with hub.app[keys.DATABASE].read() as conn:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = int(
                await conn.scalar(sa.select(sa.func.count()).select_from(table))
            )
        counts["max_seq"] = int(
            await conn.scalar(sa.text("SELECT coalesce(max(seq), 0) FROM events"))
        )
    return counts


async def expect_error(response: aiohttp.ClientResponse, status: int, code: str | None = None):
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
async def open_conversation(hub):
    answer = await hub.chatbot.escalate(expect=201)
    await hub.settled()
    return answer["conversationId"]


ESCALATION_CASES = [
    ("malformed json", b'{"sessionId": "s1",', "application/json", 400, "invalid_json"),
    ("not an object", b'["s1"]', "application/json", 422, "validation_error"),
    ("form encoded", b"sessionId=s1", "application/x-www-form-urlencoded", 415, None),
    ("missing sessionId", b"{}", "application/json", 422, "validation_error"),
    ("empty sessionId", b'{"sessionId": ""}', "application/json", 422, "validation_error"),
    ("wrong type", b'{"sessionId": 42}', "application/json", 422, "validation_error"),
    ("user not an object", b'{"sessionId": "s", "user": "Jo"}', "application/json", 422, None),
    ("bad email", b'{"sessionId": "s", "user": {"email": "nope"}}', "application/json", 422, None),
    ("unknown field", b'{"sessionId": "s", "sesionId": "t"}', "application/json", 422, None),
    (
        "bad transcript speaker",
        b'{"sessionId": "s", "transcript": [{"user": "robot", "message": "hi"}]}',
        "application/json",
        422,
        None,
    ),
    (
        "transcript item without message",
        b'{"sessionId": "s", "transcript": [{"user": "guest"}]}',
        "application/json",
        422,
        None,
    ),
    ("data not an object", b'{"sessionId": "s", "data": [1]}', "application/json", 422, None),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [case[1:] for case in ESCALATION_CASES],
    ids=[case[0] for case in ESCALATION_CASES],
)
async def test_bad_escalations_are_refused_and_change_nothing(
    hub, body, content_type, status, code
):
    before = await database_state(hub)
    response = await hub.client.post(
        "/v1/escalations",
        data=body,
        headers={**hub.chatbot.key_headers, "Content-Type": content_type},
    )
    await expect_error(response, status, code)
    assert await database_state(hub) == before


async def test_validation_errors_name_every_field(hub):
    response = await hub.client.post(
        "/v1/escalations",
        json={
            "user": {"email": "x"},
            "transcript": [{"user": "robot", "message": "hi"}],
            "extra": 1,
        },
        headers=hub.chatbot.key_headers,
    )
    error = await expect_error(response, 422, "validation_error")
    fields = {problem["field"] for problem in error["fields"]}
    assert fields == {"sessionId", "user.email", "transcript.0.user", "extra"}
    assert "sessionId: is required" in error["message"]


async def test_limits_on_size_transcript_and_text(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted"}},
        limits={
            "max_body_bytes": 4096,
            "max_transcript_items": 3,
            "max_message_chars": 50,
            "max_inquiry_chars": 20,
        },
    )
    before = await database_state(hub)
    headers = hub.chatbot.key_headers
    big = {"sessionId": "s", "data": {"blob": "x" * 5000}}
    await expect_error(
        await hub.client.post("/v1/escalations", json=big, headers=headers), 413, "too_large"
    )
    long_transcript = {"sessionId": "s", "transcript": [{"user": "guest", "message": "hi"}] * 4}
    error = await expect_error(
        await hub.client.post("/v1/escalations", json=long_transcript, headers=headers), 422
    )
    assert "transcript: has 4 items; at most 3 are accepted" in error["message"]
    long_line = {"sessionId": "s", "transcript": [{"user": "guest", "message": "y" * 51}]}
    error = await expect_error(
        await hub.client.post("/v1/escalations", json=long_line, headers=headers), 422
    )
    assert "transcript.0.message" in error["message"]
    long_inquiry = {"sessionId": "s", "inquiry": "z" * 21}
    await expect_error(
        await hub.client.post("/v1/escalations", json=long_inquiry, headers=headers), 422
    )
    assert await database_state(hub) == before

    cid = (await hub.chatbot.escalate())["conversationId"]
    before = await database_state(hub)
    error = await hub.chatbot.send(cid, "c1", "w" * 51, expect=422)
    assert "message: is longer than 50 characters" in error["error"]["message"]
    assert await database_state(hub) == before


MESSAGE_CASES = [
    ("missing id", {"message": "hi"}),
    ("empty id", {"id": "", "message": "hi"}),
    ("id not a string", {"id": 7, "message": "hi"}),
    ("message not a string", {"id": "c1", "message": ["hi"]}),
    ("unknown field", {"id": "c1", "text": "hi"}),
    ("media without id", {"id": "c1", "media": {}}),
]


@pytest.mark.parametrize("body", [c[1] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES])
async def test_bad_messages_are_refused_and_change_nothing(hub, open_conversation, body):
    before = await database_state(hub)
    response = await hub.client.post(
        f"/v1/conversations/{open_conversation}/messages",
        json=body,
        headers=hub.chatbot.token_headers(open_conversation),
    )
    await expect_error(response, 422, "validation_error")
    assert await database_state(hub) == before


async def test_media_of_another_conversation_cannot_be_attached(hub):
    chatbot = hub.chatbot
    mine = (await chatbot.escalate("s1"))["conversationId"]
    theirs = (await chatbot.escalate("s2"))["conversationId"]
    form = aiohttp.FormData()
    form.add_field("file", b"PNG", filename="a.png", content_type="image/png")
    uploaded = await chatbot.call(
        "POST", f"/v1/conversations/{theirs}/media", conversation_id=theirs, data=form, expect=201
    )
    before = await database_state(hub)
    response = await hub.client.post(
        f"/v1/conversations/{mine}/messages",
        json={"id": "c1", "message": "see", "media": {"id": uploaded["id"]}},
        headers=chatbot.token_headers(mine),
    )
    await expect_error(response, 422, "unknown_media")
    assert await database_state(hub) == before


async def test_unknown_and_foreign_conversations(hub, aiohttp_client):
    chatbot = hub.chatbot
    cid = (await chatbot.escalate())["conversationId"]
    other_id, other_secret = await add_bot(hub.app, "Other bot")
    other_headers = {"Authorization": f"Bearer {other_secret}"}
    before = await database_state(hub)

    for path in (f"/v1/conversations/{cid}", f"/v1/conversations/{cid}/events"):
        # Another bot's key: answered as if the conversation did not exist.
        await expect_error(await hub.client.get(path, headers=other_headers), 404, "not_found")
    await expect_error(
        await hub.client.post(
            f"/v1/conversations/{cid}/messages",
            headers=other_headers,
            json={"id": "x", "message": "hijack"},
        ),
        404,
    )
    await expect_error(
        await hub.client.get("/v1/conversations/c_doesnotexist", headers=chatbot.key_headers),
        404,
        "not_found",
    )

    # A token is scoped to its own conversation.
    second = (await chatbot.escalate("s2"))["conversationId"]
    before = await database_state(hub)
    await expect_error(
        await hub.client.get(f"/v1/conversations/{second}", headers=chatbot.token_headers(cid)),
        403,
        "token_scope",
    )
    await expect_error(
        await hub.client.post(
            f"/v1/conversations/{second}/close", headers=chatbot.token_headers(cid), json={}
        ),
        403,
        "token_scope",
    )
    assert await database_state(hub) == before
    assert other_id != chatbot.bot_id


async def test_wrong_missing_and_expired_credentials(hub):
    chatbot = hub.chatbot
    cid = (await chatbot.escalate())["conversationId"]
    path = f"/v1/conversations/{cid}"
    token = chatbot.tokens[cid]
    before = await database_state(hub)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    expired = hub.app[keys.TOKENS].issue(
        cid, chatbot.bot_id, datetime.now(UTC) - timedelta(seconds=1)
    )
    cases = [
        ({}, "missing_auth"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, "invalid_auth"),
        ({"Authorization": "Bearer "}, "invalid_auth"),
        ({"Authorization": f"Bearer {tampered}"}, "invalid_token"),
        ({"Authorization": "Bearer ct_garbage"}, "invalid_token"),
        ({"Authorization": f"Bearer {expired}"}, "token_expired"),
        ({"Authorization": "Bearer sk_not-a-real-key"}, "invalid_key"),
        ({"Authorization": "Bearer something-else"}, "invalid_auth"),
    ]
    for headers, code in cases:
        await expect_error(await hub.client.get(path, headers=headers), 401, code)
        await expect_error(
            await hub.client.post(
                f"{path}/messages", headers=headers, json={"id": "c1", "message": "hi"}
            ),
            401,
            code,
        )
    await expect_error(
        await hub.client.get(f"{path}/events", params={"token": expired}), 401, "token_expired"
    )
    # The escalation endpoint wants the bot's key, not a conversation token.
    await expect_error(
        await hub.client.post(
            "/v1/escalations",
            json={"sessionId": "s9"},
            headers={"Authorization": f"Bearer {token}"},
        ),
        401,
        "invalid_key",
    )
    assert await database_state(hub) == before


async def test_browser_calls_by_public_id_need_an_allowed_origin(hub):
    bot_id, _ = await add_bot(hub.app, "Widget bot", allowed_origins=["https://shop.example"])
    before = await database_state(hub)
    body = {"sessionId": "browser-1"}
    await expect_error(
        await hub.client.post("/v1/escalations", json=body, headers={"X-Bot-Id": bot_id}),
        403,
        "forbidden",
    )
    await expect_error(
        await hub.client.post(
            "/v1/escalations",
            json=body,
            headers={"X-Bot-Id": bot_id, "Origin": "https://evil.example"},
        ),
        403,
        "origin_not_allowed",
    )
    await expect_error(
        await hub.client.post(
            "/v1/escalations",
            json=body,
            headers={"X-Bot-Id": hub.chatbot.bot_id, "Origin": "https://shop.example"},
        ),
        403,
        "origin_not_allowed",
    )  # that bot lists no origins: server-side only
    await expect_error(
        await hub.client.post(
            "/v1/escalations",
            json=body,
            headers={"X-Bot-Id": "bot_nope", "Origin": "https://shop.example"},
        ),
        401,
        "invalid_key",
    )
    assert await database_state(hub) == before
    response = await hub.client.post(
        "/v1/escalations", json=body, headers={"X-Bot-Id": bot_id, "Origin": "https://shop.example"}
    )
    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


async def test_bad_stream_parameters(hub, open_conversation):
    headers = hub.chatbot.token_headers(open_conversation)
    path = f"/v1/conversations/{open_conversation}/events"
    for params in (
        {"after": "-1"},
        {"after": "abc"},
        {"wait": "100"},
        {"limit": "0"},
        {"wait": "x"},
    ):
        await expect_error(await hub.client.get(path, params=params, headers=headers), 422)
    await expect_error(
        await hub.client.get(
            path, headers={**headers, "Accept": "text/event-stream", "Last-Event-ID": "seven"}
        ),
        422,
    )


async def test_bad_reads_typing_ratings_and_closes(hub, open_conversation):
    cid = open_conversation
    headers = hub.chatbot.token_headers(cid)
    before = await database_state(hub)
    cases = [
        ("read", {"upTo": "m_unknown"}, 404),
        ("read", {}, 422),
        ("typing", {"typing": "yes please"}, 422),
        ("typing", {}, 422),
        ("rating", {"value": "x" * 41}, 422),
        ("rating", {"value": None}, 422),
        ("close", {"reason": "r" * 201}, 422),
        ("close", {"reason": ""}, 422),
    ]
    for action, body, status in cases:
        response = await hub.client.post(
            f"/v1/conversations/{cid}/{action}", json=body, headers=headers
        )
        await expect_error(response, status)
    assert await database_state(hub) == before


async def test_bad_uploads(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted"}}, limits={"max_upload_bytes": 2048}
    )
    cid = (await hub.chatbot.escalate())["conversationId"]
    path = f"/v1/conversations/{cid}/media"
    headers = hub.chatbot.token_headers(cid)
    before = await database_state(hub)

    def form(content: bytes, content_type: str = "image/png", **fields: str) -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("file", content, filename="shot.png", content_type=content_type)
        for name, value in fields.items():
            data.add_field(name, value)
        return data

    await expect_error(
        await hub.client.post(path, data=form(b"x" * 2049), headers=headers), 413, "too_large"
    )
    await expect_error(
        await hub.client.post(path, data=form(b"MZ", "application/x-msdownload"), headers=headers),
        415,
        "file_type_not_allowed",
    )
    await expect_error(await hub.client.post(path, data=form(b""), headers=headers), 422)
    no_file = aiohttp.FormData(default_to_multipart=True)
    no_file.add_field("id", "c1")
    await expect_error(await hub.client.post(path, data=no_file, headers=headers), 422)
    await expect_error(
        await hub.client.post(path, data=form(b"ok", surprise="1"), headers=headers), 422
    )
    await expect_error(
        await hub.client.post(
            path,
            data=json.dumps({"file": "x"}),
            headers={**headers, "Content-Type": "application/json"},
        ),
        415,
    )
    assert await database_state(hub) == before


async def test_unknown_routes_and_methods_answer_json(hub):
    await expect_error(await hub.client.get("/v1/nothing-here"), 404, "not_found")
    await expect_error(await hub.client.delete("/v1/escalations"), 405, "method_not_allowed")


async def test_a_closed_conversation_refuses_new_messages_and_uploads(hub, open_conversation):
    cid = open_conversation
    chatbot = hub.chatbot
    await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
    before = await database_state(hub)
    await chatbot.send(cid, "late", "hello?", expect=409)
    form = aiohttp.FormData()
    form.add_field("file", b"PNG", filename="a.png", content_type="image/png")
    form.add_field("id", "late-file")
    await expect_error(
        await hub.client.post(
            f"/v1/conversations/{cid}/media", data=form, headers=chatbot.token_headers(cid)
        ),
        409,
    )
    await expect_error(
        await hub.client.post(
            f"/v1/conversations/{cid}/typing",
            json={"typing": True},
            headers=chatbot.token_headers(cid),
        ),
        409,
    )
    assert await database_state(hub) == before


async def test_a_rotated_bot_key_stops_working_at_once(hub):
    from hub.store.bots import rotate_secret

    old = hub.chatbot.key_headers
    async with hub.app[keys.DATABASE].writer.begin() as conn:
        new_secret = await rotate_secret(hub.chatbot.bot_id, conn=conn)
    await expect_error(
        await hub.client.post("/v1/escalations", json={"sessionId": "s"}, headers=old),
        401,
        "invalid_key",
    )
    response = await hub.client.post(
        "/v1/escalations",
        json={"sessionId": "s"},
        headers={"Authorization": f"Bearer {new_secret}"},
    )
    assert response.status == 201


async def test_a_page_on_the_hubs_own_origin_may_use_the_public_id(hub):
    """Browsers send no Origin on a same-origin GET; Sec-Fetch-Site says where it came from."""
    own = str(hub.client.make_url("")).rstrip("/")
    bot_id, _ = await add_bot(hub.app, "Demo bot", allowed_origins=[own])
    same = {"X-Bot-Id": bot_id, "Sec-Fetch-Site": "same-origin"}
    assert (await hub.client.get("/v1/availability", headers=same)).status == 200
    elsewhere = {"X-Bot-Id": bot_id, "Sec-Fetch-Site": "cross-site"}
    await expect_error(await hub.client.get("/v1/availability", headers=elsewhere), 403)


async def test_a_browser_reattaches_by_token_only(hub):
    """A session id is not a credential: a browser escalation (public id, allowed Origin)
    for a session whose chat is open gets 409 conversation-open and no token; a replay of
    its own escalation (same Idempotency-Key) and the server-side key still get it back."""
    bot_id, secret = await add_bot(hub.app, "Widget bot", allowed_origins=["https://shop.example"])
    browser = {"X-Bot-Id": bot_id, "Origin": "https://shop.example"}
    body = {"sessionId": "browser-1"}
    first = await hub.client.post(
        "/v1/escalations", json=body, headers={**browser, "Idempotency-Key": "k1"}
    )
    assert first.status == 201
    opened = await first.json()
    await hub.settled()

    before = await database_state(hub)
    for headers in (browser, {**browser, "Idempotency-Key": "k2"}):  # curl with a forged Origin
        response = await hub.client.post("/v1/escalations", json=body, headers=headers)
        error = await expect_error(response, 409, "conversation-open")
        assert opened["conversationId"] not in json.dumps(error)
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert await database_state(hub) == before

    replay = await hub.client.post(
        "/v1/escalations", json=body, headers={**browser, "Idempotency-Key": "k1"}
    )
    assert replay.status == 200
    assert (await replay.json())["conversationId"] == opened["conversationId"]
    server = await hub.client.post(
        "/v1/escalations", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    assert server.status == 200
    assert (await server.json())["conversationId"] == opened["conversationId"]

    # Once that chat has ended, the browser may escalate the session again.
    await hub.client.post(
        f"/v1/conversations/{opened['conversationId']}/close",
        json={},
        headers={"Authorization": f"Bearer {opened['token']}", "Origin": "https://shop.example"},
    )
    again = await hub.client.post("/v1/escalations", json=body, headers=browser)
    assert again.status == 201, await again.text()
    assert (await again.json())["conversationId"] != opened["conversationId"]
    await hub.settled()


async def test_resume_points_past_what_a_seq_can_be(hub, open_conversation):
    headers = hub.chatbot.token_headers(open_conversation)
    path = f"/v1/conversations/{open_conversation}/events"
    await expect_error(await hub.client.get(path, params={"after": 2**31}, headers=headers), 422)
    for last in (str(2**31), "²", "99999999999999999999"):
        await expect_error(
            await hub.client.get(path, headers={**headers, "Last-Event-ID": last}), 422
        )
    page = await hub.client.get(path, params={"after": 2**31 - 1}, headers=headers)
    assert (await page.json())["events"] == []
