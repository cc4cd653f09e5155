"""The webhook bridge's ingress for volume: a signed batch of events in one POST, and a
signed WebSocket where events come as frames and are acknowledged once stored.

Through a real hub on SQLite and PostgreSQL: every event is answered on its own (a refused
one costs the others nothing), a conversation's events keep their order, duplicates
change nothing, and a refused request or frame changes nothing at all.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from providers import signing
from tests.hub.test_bad_input import database_state, expect_error
from tests.providers.test_webhook import event, webhook_hub
from tests.providers.webhook_platform import SECRET

BATCH = "/providers/partner/events/batch"
STREAM = "/providers/partner/events/stream"
ANA = {"id": "a1", "name": "Ana"}


@pytest.fixture
async def hub(hub_factory, platform):
    return await hub_factory(**webhook_hub(platform))


async def open_chat(hub, session: str = "s-1") -> str:
    cid = (await hub.chatbot.escalate(session, expect=201))["conversationId"]
    await hub.settled()
    return cid


def message(event_id: str, cid: str, text: str) -> dict[str, Any]:
    return event(event_id, "agent.message", cid, text=text, agent=ANA)


async def post_batch(hub, platform, body: Any, *, raw: bytes | None = None, **sign: Any):
    data = raw if raw is not None else json.dumps(body).encode()
    return await hub.client.post(BATCH, data=data, headers=platform.signed_body(data, **sign))


async def shown(hub, cid: str) -> list[str]:
    """The agent messages the chatbot sees, in seq order."""
    return [
        data["message"]
        for action, data in await hub.chatbot.actions(cid)
        if action == "displayChatbotMessage"
    ]


async def stream(
    hub, *, secret: str = SECRET, path: str = STREAM
) -> aiohttp.ClientWebSocketResponse:
    headers = {signing.SIGNATURE_HEADER: signing.sign(secret, path.encode())}
    return await hub.client.ws_connect(STREAM, headers=headers)


async def acks(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    """Read acknowledgement frames until ``count`` results have come."""
    results: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while len(results) < count:
            frame = await ws.receive_json()
            assert set(frame) == {"acks"}, frame
            results += frame["acks"]
    return results


# -- batch ----------------------------------------------------------------------------------


async def test_a_batch_is_answered_event_by_event(hub, platform):
    one, two = await open_chat(hub, "s-1"), await open_chat(hub, "s-2")
    events = [
        event("e1", "agent.joined", one, agent=ANA),
        message("e2", one, "first"),
        {"id": "e3", "type": "agent.message", "conversation": {"id": one}, "data": {}},
        message("e4", "c_nobody", "lost"),
        message("e5", two, "to the other chat"),
        message("e6", one, "second"),
    ]
    response = await post_batch(hub, platform, {"events": events})
    assert response.status == 200
    results = (await response.json())["results"]
    assert [(r["id"], r["ok"]) for r in results] == [
        ("e1", True),
        ("e2", True),
        ("e3", False),
        ("e4", False),
        ("e5", True),
        ("e6", True),
    ]
    assert results[1]["messageId"].startswith("m_")
    assert (results[2]["status"], results[2]["error"]["code"]) == (422, "invalid_event")
    assert "html, text or media" in results[2]["error"]["message"]
    assert (results[3]["status"], results[3]["error"]["code"]) == (404, "unknown_conversation")
    assert await shown(hub, one) == ["first", "second"]
    assert await shown(hub, two) == ["to the other chat"]


async def test_a_conversations_events_keep_their_order_in_a_batch(hub, platform):
    cids = [await open_chat(hub, f"s-{i}") for i in range(3)]
    events = [message(f"e{n}", cids[n % 3], f"message {n}") for n in range(60)]
    response = await post_batch(hub, platform, {"events": events})
    assert all(r["ok"] for r in (await response.json())["results"])
    for index, cid in enumerate(cids):
        assert await shown(hub, cid) == [f"message {n}" for n in range(index, 60, 3)]
    seqs = [e["seq"] for e in await hub.chatbot.events(cids[0])]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_duplicate_in_a_batch_or_a_replay_changes_nothing(hub, platform):
    cid = await open_chat(hub)
    batch = {"events": [message("e1", cid, "once"), message("e1", cid, "once")]}
    first = (await (await post_batch(hub, platform, batch)).json())["results"]
    assert [r["ok"] for r in first] == [True, True]
    assert first[0]["messageId"] == first[1]["messageId"]
    before = await database_state(hub)
    again = (await (await post_batch(hub, platform, batch)).json())["results"]
    assert again == first
    assert await database_state(hub) == before
    assert await shown(hub, cid) == ["once"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'[{"id": "e1"}]', 422, "invalid_batch"),
        (b'{"events": {"id": "e1"}}', 422, "invalid_batch"),
    ],
)
async def test_a_malformed_batch_changes_nothing(hub, platform, body, status, code):
    await open_chat(hub)
    before = await database_state(hub)
    await expect_error(await post_batch(hub, platform, None, raw=body), status, code)
    assert await database_state(hub) == before


async def test_an_oversized_or_unsigned_batch_changes_nothing(hub_factory, platform):
    hub = await hub_factory(**webhook_hub(platform, max_batch_events=5, max_event_bytes=4096))
    cid = await open_chat(hub)
    before = await database_state(hub)
    many = {"events": [message(f"e{n}", cid, "hi") for n in range(6)]}
    await expect_error(await post_batch(hub, platform, many), 413, "too_many_events")
    big = {"events": [message("e1", cid, "x" * 5000)]}
    await expect_error(await post_batch(hub, platform, big), 413, "too_large")
    fine = {"events": [message("e1", cid, "hi")]}
    wrong = await post_batch(hub, platform, fine, secret="another-secret-0123456789abc")
    await expect_error(wrong, 401, "signature_mismatch")
    stale = await post_batch(hub, platform, fine, timestamp=1_000_000_000)
    await expect_error(stale, 401, "signature_stale")
    assert await database_state(hub) == before


# -- stream ---------------------------------------------------------------------------------


async def test_the_stream_acknowledges_each_event_once_stored(hub):
    one, two = await open_chat(hub, "s-1"), await open_chat(hub, "s-2")
    ws = await stream(hub)
    # Sent without waiting for answers, single events and an array in one frame.
    for n in range(20):
        await ws.send_json(message(f"s{n}", one, f"to one {n}"))
    await ws.send_json([message("t0", two, "to two 0"), message("t1", two, "to two 1")])
    results = await acks(ws, 22)
    assert sorted(r["id"] for r in results) == sorted([f"s{n}" for n in range(20)] + ["t0", "t1"])
    assert all(r["ok"] and r["messageId"].startswith("m_") for r in results)
    assert await shown(hub, one) == [f"to one {n}" for n in range(20)]
    assert await shown(hub, two) == ["to two 0", "to two 1"]
    await ws.close()


async def test_a_bad_frame_is_answered_and_the_stream_goes_on(hub):
    cid = await open_chat(hub)
    ws = await stream(hub)
    before = await database_state(hub)
    await ws.send_str("{not json")
    await ws.send_bytes(b"\x00\x01")
    await ws.send_json(event("bad", "agent.joined", cid, agent={"id": "a1"}))  # no name
    answers = await acks(ws, 3)
    assert [(a["id"], a["status"], a["error"]["code"]) for a in answers] == [
        (None, 400, "invalid_json"),
        (None, 400, "invalid_frame"),
        ("bad", 422, "invalid_event"),
    ]
    assert await database_state(hub) == before
    await ws.send_json(message("good", cid, "still here"))
    assert (await acks(ws, 1))[0]["ok"]
    assert await shown(hub, cid) == ["still here"]
    await ws.close()


async def test_a_replay_on_the_stream_answers_as_the_first_time(hub, platform):
    cid = await open_chat(hub)
    ws = await stream(hub)
    await ws.send_json(message("e1", cid, "once"))
    first = await acks(ws, 1)
    before = await database_state(hub)
    await ws.send_json(message("e1", cid, "once"))
    assert await acks(ws, 1) == first
    # The same event by the single POST: the same answer again.
    body = json.dumps(message("e1", cid, "once")).encode()
    single = await hub.client.post(
        "/providers/partner/events", data=body, headers=platform.signed_body(body)
    )
    assert (await single.json())["messageId"] == first[0]["messageId"]
    assert await database_state(hub) == before
    await ws.close()


async def test_an_unsigned_stream_is_refused_before_it_opens(hub):
    for headers in (
        {},
        {signing.SIGNATURE_HEADER: signing.sign("another-secret-0123456789abc", STREAM.encode())},
        {signing.SIGNATURE_HEADER: signing.sign(SECRET, b"/providers/other/events/stream")},
        {signing.SIGNATURE_HEADER: signing.sign(SECRET, STREAM.encode(), timestamp=1_000_000)},
    ):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await hub.client.ws_connect(STREAM, headers=headers)
        assert refused.value.status == 401


async def test_a_frame_too_large_closes_the_stream_and_changes_nothing(hub_factory, platform):
    hub = await hub_factory(**webhook_hub(platform, max_event_bytes=2048))
    cid = await open_chat(hub)
    before = await database_state(hub)
    ws = await stream(hub)
    await ws.send_json(message("big", cid, "x" * 3000))
    closing = await asyncio.wait_for(ws.receive(), 10)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert await database_state(hub) == before
