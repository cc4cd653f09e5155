"""A local fake of Chatlayer's REST API, and Chatlayer's Offloading Webhook payloads.

The fake serves the one call the hub makes, as Chatlayer documents it ("conversation
actions", ``executeConversationAction``): ``POST /v1/bots/{botId}/conversations/
{sessionId}/actions?version=DRAFT|LIVE`` with ``Authorization: Bearer <API token>`` and a
JSON object body. It checks the token, the version and the body's fields, can fail a
number of calls with 503 (a platform having a bad minute), and keeps every action it
accepted, in arrival order (so a test sees any action sent twice).

For the hand-back strategies that use it, it also serves Chatlayer's (deprecated) Webhook
Channel "asynchronous actions", ``POST /api/webview`` with ``botId``, ``senderId`` and a
``session`` or an ``action`` (kept in ``webviews``). ``refuse_hand_back`` answers 400 to any
hand-back, as Chatlayer would to a body it does not take.

The payloads are the examples of Chatlayer's Offloading Webhook documentation
(docs.chatlayer.ai, "Offloading Webhook"), with their ids and timestamps.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_TOKEN = "cl-api-token-for-tests"
VERIFY_TOKEN = "topsecretverifytoken"
CHATLAYER_BOT = "ko3123ze"
ACTION_FIELDS = {"sendMessages", "pauseBot"}
WEBVIEW_FIELDS = {"botId", "senderId", "session", "action", "messages"}


@dataclass
class Action:
    bot_id: str
    session_id: str
    version: str
    body: dict[str, Any]

    @property
    def texts(self) -> list[str]:
        """The texts of a sendMessages action's text messages."""
        return [
            text["text"]
            for message in self.body.get("sendMessages", [])
            for text in message.get("textMessageTemplate", {}).get("textMessages", [])
        ]


@dataclass
class FakeChatlayer:
    token: str = API_TOKEN
    actions: list[Action] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    webviews: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    answer: int = 200
    refuse_hand_back: bool = False
    runner: web.AppRunner | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        version = request.query.get("version")
        if version not in ("DRAFT", "LIVE"):
            return web.json_response({"error": "version must be DRAFT or LIVE"}, status=400)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(body, dict) or not body or set(body) - ACTION_FIELDS:
            return web.json_response({"error": f"not a conversation action: {body}"}, status=400)
        for message in body.get("sendMessages", []):
            if not ({"textMessageTemplate", "attachmentTemplate"} & set(message)):
                return web.json_response({"error": f"unknown message {message}"}, status=400)
        self.attempts.append(body)
        if self.refuse_hand_back and "pauseBot" in body:
            return web.json_response({"error": "pauseBot is not an action"}, status=400)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"error": "try again"}, status=503)
        if self.answer != 200:
            return web.json_response({"error": "no"}, status=self.answer)
        action = Action(
            request.match_info["bot_id"], request.match_info["session_id"], version, body
        )
        self.actions.append(action)
        return web.json_response({"status": "ok"})

    async def webview(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        body = json.loads(await request.read())
        if not isinstance(body, dict) or set(body) - WEBVIEW_FIELDS or "senderId" not in body:
            return web.json_response({"error": f"not an asynchronous action: {body}"}, status=400)
        if self.refuse_hand_back:
            return web.json_response({"error": "no"}, status=400)
        self.webviews.append(body)
        return web.json_response({})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/bots/{bot_id}/conversations/{session_id}/actions", self.handle)
        app.router.add_post("/api/webview", self.webview)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


# -- the documentation's payloads -------------------------------------------------------

SESSION = "emulator-714a7b79-d674-4a62-a9a9-49581d7451e5"

TEXT_BOT = {
    "botId": "ko3123ze",
    "version": "DRAFT",
    "sessionId": "emulator-18878e66-03fb-4ee7-b2c4-eb9db1848291",
    "event": "messages",
    "messages": [
        {"actor": "bot", "message": {"text": "Hi Welcome"}, "timestamp": "2021-11-15T07:38:31.387Z"}
    ],
    "timestamp": "2021-11-15T07:38:31.387Z",
}

QUICK_REPLY_PAYLOAD = (
    '{"title":"Do API FROM CODE","caption":"Do API FROM CODE","type":"quickreply",'
    '"parameters":[],"nextDialogstateId":"19f87132-e23c-4335-877d-6a36f511c2cc",'
    '"originalTitle":"Do API FROM CODE"}'
)

QUICK_REPLIES_BOT = {
    "botId": "ko3123ze",
    "version": "DRAFT",
    "sessionId": "emulator-d3dac415-5263-482c-a30b-d1588c52d918",
    "event": "messages",
    "messages": [
        {
            "actor": "bot",
            "message": {"text": "Hi Welcome"},
            "timestamp": "2021-11-15T07:47:08.383Z",
        },
        {
            "actor": "bot",
            "message": {
                "text": "Choose what you want to do?",
                "quick_replies": [
                    {
                        "title": "Do API FROM CODE",
                        "payload": QUICK_REPLY_PAYLOAD,
                        "content_type": "text",
                    },
                    {"title": "Api Plugin", "payload": "{}", "content_type": "text"},
                    {"title": "SendMessageFromCode", "payload": "{}", "content_type": "text"},
                ],
            },
            "timestamp": "2021-11-15T07:47:08.384Z",
        },
    ],
    "timestamp": "2021-11-15T07:47:08.383Z",
}

CAROUSEL_BOT = {
    "botId": "ko3123ze",
    "version": "DRAFT",
    "sessionId": "emulator-39ac2f23-07ce-4878-bd7d-729e6b39efdf",
    "event": "messages",
    "messages": [
        {
            "actor": "bot",
            "message": {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "generic",
                        "elements": [
                            {
                                "title": "Item 1",
                                "image_url": "https://st.depositphotos.com/1708346/1858/i/600/depositphotos_18582903-stock-photo-carousel-at-night.jpg",
                                "buttons": [
                                    {
                                        "title": "Docs",
                                        "url": "https://docs.chatlayer.ai",
                                        "type": "web_url",
                                    }
                                ],
                            },
                            {
                                "title": "Item 2",
                                "image_url": "https://st.depositphotos.com/1708346/1858/i/600/depositphotos_18582903-stock-photo-carousel-at-night.jpg",
                                "subtitle": "Item 2 Subtitle",
                                "buttons": [
                                    {
                                        "title": "Docs",
                                        "url": "https://docs.chatlayer.ai",
                                        "type": "web_url",
                                    }
                                ],
                                "default_action": {
                                    "url": "https://docs.chatlayer.ai",
                                    "type": "web_url",
                                },
                            },
                        ],
                    },
                }
            },
            "timestamp": "2021-11-15T08:24:32.871Z",
        }
    ],
    "timestamp": "2021-11-15T08:24:32.871Z",
}


def _user(session: str, timestamp: str, **message: Any) -> dict[str, Any]:
    return {
        "actor": "user",
        "message": {
            "channelType": "web",
            "sender": {"id": session, "botId": "ko3123ze", "botType": "web", "isEmulator": "true"},
            "timestamp": timestamp,
            **message,
        },
        "timestamp": timestamp,
    }


def _messages(session: str, timestamp: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "botId": "ko3123ze",
        "version": "DRAFT",
        "sessionId": session,
        "event": "messages",
        "messages": list(items),
        "timestamp": timestamp,
    }


INTRO_USER = _messages(
    "emulator-942c05c5-b9b7-4319-81e7-6d687afaa23f",
    "2021-11-15T08:28:05.908Z",
    {
        "actor": "user",
        "message": {
            "channelType": "web",
            "sender": {
                "id": "emulator-942c05c5-b9b7-4319-81e7-6d687afaa23f",
                "botId": "ko3123ze",
                "botType": "web",
                "preferredLanguage": "en",
                "firstname": "Guest",
                "isEmulator": "true",
            },
            "timestamp": "2021-11-15T08:28:05.872Z",
            "messageType": "intro",
            "id": "61921a15cdee7f37a16ee5fc",
        },
        "timestamp": "2021-11-15T08:28:05.872Z",
    },
)

TEXT_USER = _messages(
    "emulator-8f5873aa-8fee-471a-9467-81e30dec693d",
    "2021-11-15T08:26:13.193Z",
    _user(
        "emulator-8f5873aa-8fee-471a-9467-81e30dec693d",
        "2021-11-15T08:26:13.154Z",
        messageType="text",
        text="hi there",
        id="619219a5cdee7f9f1b6ee5f7",
    ),
)

FILE_URL = (
    "https://minio.dev.chatlayer.ai/chatlayer-dev-eu-storage/"
    "f42af93e42b350fd7b874300c775756b168cc9ea4475b0c8c80e947228a26404/1636964964162_full.png"
)

UPLOAD_USER = _messages(
    "1636964964162",
    "2021-11-15T08:29:38.934Z",
    {
        "actor": "user",
        "message": {
            "channelType": "web",
            "sender": {
                "id": "1636964964162",
                "botId": "ko3123ze",
                "botType": "web",
                "firstname": "Guest",
            },
            "timestamp": "2021-11-15T08:29:38.900Z",
            "messageType": "fileUploadInputResult",
            "urls": [FILE_URL],
            "data": {"uploadStatus": "SUCCEEDED", "fileUrl": FILE_URL},
            "id": "61921a72cdee7fd1c56ee614",
        },
        "timestamp": "2021-11-15T08:29:38.900Z",
    },
)

LOCATION_USER = _messages(
    "emulator-8f5873aa-8fee-471a-9467-81e30dec693d",
    "2021-11-15T08:26:13.193Z",
    _user(
        "emulator-8f5873aa-8fee-471a-9467-81e30dec693d",
        "2021-11-15T08:26:13.154Z",
        messageType="location",
        coordinates={"lat": 0, "long": 0},
        id="619219a5cdee7f9f1b6ee5f8",
    ),
)

POSTBACK_USER = _messages(
    "emulator-6d09d652-a971-47ab-8484-223a86ff316e",
    "2021-11-15T08:33:39.309Z",
    _user(
        "emulator-6d09d652-a971-47ab-8484-223a86ff316e",
        "2021-11-15T08:33:39.276Z",
        messageType="postback",
        title="Set Variables",
        parameters=[],
        nextDialogstateId="071abbc7-1d6e-4689-adef-1ea825178a72",
        id="61921b63cdee7f21ab6ee621",
    ),
)

BUTTON_TEMPLATE = {
    "attachment": {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "What do you want to do?",
            "buttons": [
                {"title": "Set Variables", "type": "postback", "payload": "{}"},
                {"title": "offload", "type": "postback", "payload": "{}"},
            ],
        },
    }
}

OFFLOAD = {
    "botId": "ko3123ze",
    "version": "DRAFT",
    "sessionId": SESSION,
    "timestamp": "2021-11-15T08:36:21.527Z",
    "event": "offload",
    "transcript": [
        {
            "actor": "bot",
            "message": {"text": "Hi Welcome"},
            "timestamp": "2021-11-15T08:36:11.991Z",
        },
        {
            "actor": "bot",
            "message": {
                "text": "Choose what you want to do?",
                "quick_replies": [
                    {
                        "title": "Do API FROM CODE",
                        "payload": QUICK_REPLY_PAYLOAD,
                        "content_type": "text",
                    },
                    {"title": "Api Plugin", "payload": "{}", "content_type": "text"},
                    {"title": "carousel", "payload": "{}", "content_type": "text"},
                    {"title": "first options", "payload": "{}", "content_type": "text"},
                ],
            },
            "timestamp": "2021-11-15T08:36:11.992Z",
        },
        {
            "actor": "user",
            "message": {
                "parameters": [],
                "text": "first options",
                "messageType": "postback",
                "title": "first options",
                "nextDialogstateId": "13fc7f3e-80e5-45b8-862b-d2ff436eae0e",
                "channelType": "emulator",
                "sender": {"id": SESSION, "botId": "ko3123ze"},
            },
            "timestamp": "2021-11-15T08:36:15.009Z",
        },
        {"actor": "bot", "message": BUTTON_TEMPLATE, "timestamp": "2021-11-15T08:36:15.010Z"},
    ],
}


def offload(session: str = SESSION, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(OFFLOAD)
    body["sessionId"] = session
    body.update(changes)
    return body


def messages(session: str, *items: dict[str, Any], version: str = "DRAFT") -> dict[str, Any]:
    return {
        "botId": CHATLAYER_BOT,
        "version": version,
        "sessionId": session,
        "event": "messages",
        "messages": list(items),
        "timestamp": items[-1]["timestamp"] if items else "2021-11-15T08:40:00.000Z",
    }


def user_says(session: str, text: str, message_id: str, timestamp: str) -> dict[str, Any]:
    return _user(session, timestamp, messageType="text", text=text, id=message_id)


def bot_says(text: str, timestamp: str) -> dict[str, Any]:
    return {"actor": "bot", "message": {"text": text}, "timestamp": timestamp}
