"""The built-in email provider against a real SMTP server (aiosmtpd on 127.0.0.1): tickets
over plain SMTP, STARTTLS and implicit TLS; replies coming back through a real hub; the
chain moving on when the mail server refuses; and the conformance kit."""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email import policy
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from providers import (
    Closing,
    ConversationRef,
    ProviderAuthError,
    ProviderRefused,
    ProviderTransientError,
    ProviderUnavailable,
    TicketCreated,
    TranscriptItem,
    UserInfo,
)
from providers.email import EmailConfig, EmailProvider, references
from providers.email.quotes import strip_quoted
from providers.email.replies import parse_reply
from providers.testing import (
    AgentEvent,
    AgentSide,
    ProviderConformance,
    RecordingContext,
    sample_handoff,
    sample_message,
)
from tests.hub.test_conversation import TRANSCRIPT, info
from tests.providers.certificates import Certificates, make_certificates
from tests.providers.smtp_server import (
    HUB_CALL_SECONDS,
    USERNAME,
    MailServer,
    Recorder,
    mail_server,
    refused_port,
)

CID = "c_abcdefghijklmnop"
TICKET = "T-ABCDEFGHIJKLMNOP"
TICKET_MESSAGE_ID = f"<offload.{CID}.ticket@example.com>"
SECRET = "inbound-secret-0123456789"
INBOUND = "Replies <replies@inbound.example.com>"


def bounded(seconds: float) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """The test fails, rather than hangs, when it takes longer than ``seconds``."""

    def wrap(test: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(test)
        async def run(*args: Any, **kwargs: Any) -> Any:
            async with asyncio.timeout(seconds):
                return await test(*args, **kwargs)

        return run

    return wrap


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture
async def plain() -> AsyncIterator[MailServer]:
    async with mail_server("none") as server:
        yield server


@pytest.fixture
async def starttls(certificates: Certificates) -> AsyncIterator[MailServer]:
    async with mail_server("starttls", certificates) as server:
        yield server


@pytest.fixture
async def implicit_tls(certificates: Certificates) -> AsyncIterator[MailServer]:
    async with mail_server("tls", certificates) as server:
        yield server


@asynccontextmanager
async def running(
    config: dict[str, Any], context: RecordingContext | None = None
) -> AsyncIterator[EmailProvider]:
    provider = EmailProvider(
        "mail", EmailConfig.model_validate(config), context or RecordingContext("mail")
    )
    await provider.start()
    try:
        yield provider
    finally:
        await provider.stop()


def handoff(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "conversation_id": CID,
        "user": UserInfo(
            name="Jo",
            last_name="Doe",
            email="jo@example.com",
            language="en",
            extra={"plan": "gold <vip>", "orders": [1, 2]},
        ),
        "inquiry": "My order A-17 is late <script>alert(1)</script>",
        "transcript": (
            TranscriptItem("guest", "Where is my order? <b>now</b>", "2026-11-23T09:58:00Z", "t1"),
            TranscriptItem(
                "assistant", "<p>Let me <b>get</b> you a human.</p>", "2026-11-23T09:58:05Z", "t2"
            ),
        ),
        "data": {"orderId": "A-17", "cart": {"total": "12 & 7"}},
    }
    values.update(changes)
    return sample_handoff(**values)


def raw_reply(
    text: str,
    *,
    in_reply_to: str | None = TICKET_MESSAGE_ID,
    subject: str = f"Re: [{TICKET}] My order A-17 is late",
    sender: str = "Ana Agent <ana@example.com>",
    message_id: str = "<reply-1@mail.example.net>",
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = INBOUND
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes(policy=policy.SMTP)


GMAIL_STYLE = (
    "We found your order, it ships today.\n"
    "\n"
    "On Mon, 23 Nov 2026 at 10:00, Support Hub <\n"
    "hub@example.com> wrote:\n"
    "> ##- Please type your reply above this line -##\n"
    "> New request\n"
)


# -- sending: the ticket and the confirmation ----------------------------------------------------


@bounded(20)
async def test_a_ticket_over_plain_smtp_carries_the_whole_escalation(plain: MailServer) -> None:
    context = RecordingContext("mail")
    context.own(CID)
    config = plain.config(reply_to=INBOUND, inbound_secret=SECRET)
    async with running(config, context) as provider:
        result = await provider.open(handoff())
        assert result == TicketCreated(ticket_id=TICKET, ref=TICKET)
        await plain.recorder.wait_for(2)

    (ticket,) = plain.recorder.with_header("Message-ID", TICKET_MESSAGE_ID)
    (confirmation,) = plain.recorder.with_header(
        "Message-ID", f"<offload.{CID}.confirm@example.com>"
    )

    # The envelope and the headers of the ticket.
    assert ticket.mail_from == "hub@example.com"
    assert ticket.rcpt_tos == ["support@example.com"]
    assert ticket.header("From") == "Support Hub <hub@example.com>"
    assert ticket.header("To") == "Support Team <support@example.com>"
    assert ticket.header("Subject") == f"[{TICKET}] My order A-17 is late <script>alert(1)</script>"
    assert (
        ticket.header("Reply-To")
        == "Replies <replies@inbound.example.com>, Jo Doe <jo@example.com>"
    )
    assert ticket.header("X-Offload-Conversation") == CID
    assert ticket.header("X-Offload-Ticket") == TICKET
    assert ticket.message["Date"] is not None
    assert not ticket.tls and ticket.login is None

    # The plain-text part: everything, as written.
    text = ticket.part("plain")
    assert text.startswith("##- Please type your reply above this line -##\n")
    for line in (
        f"New request {TICKET} from Jo Doe",
        "Customer: Jo Doe <jo@example.com>",
        "Language: en",
        "Queue: support",
        f"Conversation: {CID}",
        "My order A-17 is late <script>alert(1)</script>",
        "plan: gold <vip>",
        "orders: [1, 2]",
        "orderId: A-17",
        'cart: {"total": "12 & 7"}',
        "[2026-11-23T09:58:00Z] Customer: Where is my order? <b>now</b>",
        "[2026-11-23T09:58:05Z] Bot: Let me get you a human.",
        "Reply to this email: your answer goes to the customer and is recorded on the "
        "conversation.",
    ):
        assert line in text.splitlines(), line

    # The HTML part: the same facts, and nothing the customer or the bot wrote is markup.
    html = ticket.part("html")
    assert "<script>" not in html and "<b>now</b>" not in html and "<vip>" not in html
    for escaped in (
        "My order A-17 is late &lt;script&gt;alert(1)&lt;/script&gt;",
        "Where is my order? &lt;b&gt;now&lt;/b&gt;",
        "Let me get you a human.",
        "gold &lt;vip&gt;",
        "{&quot;total&quot;: &quot;12 &amp; 7&quot;}",
        "Jo Doe &lt;jo@example.com&gt;",
    ):
        assert escaped in html, escaped

    # The confirmation to the user.
    assert confirmation.rcpt_tos == ["jo@example.com"]
    assert confirmation.header("To") == "Jo Doe <jo@example.com>"
    assert confirmation.header("Subject") == f"We received your request [{TICKET}]"
    assert confirmation.header("Reply-To") == "Support Team <support@example.com>"
    assert confirmation.header("Auto-Submitted") == "auto-generated"
    assert confirmation.header("Content-Language") == "en"
    assert f"Your ticket number is {TICKET}." in confirmation.part("plain")
    assert "&lt;script&gt;" in confirmation.part("html")


@bounded(20)
async def test_open_twice_sends_one_ticket_and_one_confirmation(plain: MailServer) -> None:
    async with running(plain.config()) as provider:
        first, second = await asyncio.gather(provider.open(handoff()), provider.open(handoff()))
        assert first == second == TicketCreated(ticket_id=TICKET, ref=TICKET)
        assert await provider.open(handoff()) == first
    assert sorted(r.header("Message-ID") for r in plain.received) == [
        f"<offload.{CID}.confirm@example.com>",
        TICKET_MESSAGE_ID,
    ]


@bounded(20)
async def test_no_user_address_no_confirmation_and_no_reply_to(plain: MailServer) -> None:
    async with running(plain.config()) as provider:
        await provider.open(handoff(user=UserInfo(name="Jo")))
    (ticket,) = plain.received
    assert ticket.message["Reply-To"] is None
    assert "The customer left no email address." in ticket.part("plain")
    assert "##- Please type" not in ticket.part("plain")  # replies are not configured


@bounded(20)
async def test_starttls_with_a_login(starttls: MailServer) -> None:
    async with running(starttls.config()) as provider:
        health = await provider.check()
        assert health.ok, health.detail
        assert health.detail == f"127.0.0.1:{starttls.port} (starttls), logged in as hub"
        await provider.open(handoff(user=UserInfo(name="Jo")))
    (ticket,) = starttls.received
    assert (ticket.tls, ticket.login) == (True, USERNAME)
    assert ticket.header("Subject").startswith(f"[{TICKET}]")


@bounded(20)
async def test_implicit_tls_with_a_login(implicit_tls: MailServer) -> None:
    async with running(implicit_tls.config()) as provider:
        assert (await provider.check()).ok
        await provider.open(handoff(user=UserInfo(name="Jo")))
    (ticket,) = implicit_tls.received
    assert (ticket.tls, ticket.login) == (True, USERNAME)
    assert implicit_tls.recorder.logins[-1] == (USERNAME, True)


@bounded(20)
async def test_a_certificate_nobody_vouches_for_is_refused(implicit_tls: MailServer) -> None:
    async with running(implicit_tls.config(ca_file=None)) as provider:
        health = await provider.check()
        assert not health.ok
        assert "certificate" in health.detail
        with pytest.raises(ProviderRefused, match="certificate"):
            await provider.open(handoff())
    assert implicit_tls.received == [] and implicit_tls.recorder.logins == []
    # Turning verification off (a lab) is possible, and explicit.
    async with running(implicit_tls.config(ca_file=None, verify_tls=False)) as provider:
        assert (await provider.check()).ok


@bounded(20)
async def test_a_wrong_password_is_an_auth_error_and_not_retried(starttls: MailServer) -> None:
    config = starttls.config(password="not the password")
    async with running(config) as provider:
        health = await provider.check()
        assert not health.ok and health.detail.startswith("credentials rejected: ")
        before = len(starttls.recorder.logins)
        with pytest.raises(ProviderAuthError):
            await provider.open(handoff())
    assert starttls.received == []
    # aiosmtplib tries each mechanism the server offers once, then the adapter gives up.
    assert len(starttls.recorder.logins) - before == 2
    assert not any(ok for _, ok in starttls.recorder.logins)


# -- sending: retries and refusals -------------------------------------------------------------


@bounded(20)
async def test_a_temporary_refusal_is_retried_inside_the_call() -> None:
    recorder = Recorder(refuse_data=2)
    async with (
        mail_server(recorder=recorder) as server,
        running(server.config(confirm_user=False)) as provider,
    ):
        assert await provider.open(handoff()) == TicketCreated(TICKET, TICKET)
    assert recorder.data_attempts == 3
    assert [r.header("Message-ID") for r in server.received] == [TICKET_MESSAGE_ID]


@bounded(20)
async def test_a_server_that_keeps_refusing_is_a_transient_error() -> None:
    recorder = Recorder(refuse_data=-1)
    async with (
        mail_server(recorder=recorder) as server,
        running(server.config(confirm_user=False, retries=3)) as provider,
    ):
        with pytest.raises(ProviderTransientError, match="in 4 attempts: 451"):
            await provider.open(handoff())
        # Nothing was remembered: the next call tries again.
        with pytest.raises(ProviderTransientError):
            await provider.open(handoff())
    assert recorder.data_attempts == 8 and server.received == []


@bounded(20)
async def test_a_permanent_refusal_is_not_retried() -> None:
    recorder = Recorder(refuse_rcpt="550 5.1.1 No such mailbox")
    async with (
        mail_server(recorder=recorder) as server,
        running(server.config(confirm_user=False)) as provider,
    ):
        with pytest.raises(ProviderRefused, match=r"550 5\.1\.1 No such mailbox"):
            await provider.open(handoff())
    assert recorder.data_attempts == 0


@bounded(20)
async def test_nobody_listening_is_a_transient_error_and_an_unhealthy_check() -> None:
    async with refused_port() as port, mail_server() as server:
        config = server.config(port=port, retries=1)
        async with running(config) as provider:
            health = await provider.check()
            assert not health.ok and health.detail.startswith("unreachable: ")
            with pytest.raises(ProviderTransientError, match="in 2 attempts"):
                await provider.open(handoff())


# -- the thread: follow-ups and the closing note -----------------------------------------------


@bounded(20)
async def test_follow_ups_and_the_closing_note_stay_in_the_thread(plain: MailServer) -> None:
    config = plain.config(mode="chat", confirm_user=False, reply_to=INBOUND, inbound_secret=SECRET)
    async with running(config) as provider:
        opened = await provider.open(handoff())
        assert (opened.ref, opened.status) == (TICKET, "queued")  # type: ignore[union-attr]
        message = sample_message(CID, TICKET, "m_first", "Any news?\nStill waiting <3")
        await provider.deliver(message)
        await provider.deliver(message)
        closing = Closing(ConversationRef(CID, TICKET), "resolved", "user")
        await provider.close(closing)
        await provider.close(closing)
    ticket, follow_up, note = plain.received
    assert follow_up.header("Message-ID") == f"<offload.{CID}.msg.m_first@example.com>"
    assert follow_up.header("In-Reply-To") == TICKET_MESSAGE_ID
    assert follow_up.header("References") == TICKET_MESSAGE_ID
    assert follow_up.header("Subject") == "Re: " + ticket.header("Subject")
    assert follow_up.header("X-Offload-Message") == "m_first"
    # In chat mode agents answer in the chat: the customer is not in Reply-To.
    assert follow_up.header("Reply-To") == ticket.header("Reply-To") == INBOUND
    assert "Jo Doe wrote at 2026-11-23 10:01 UTC:\n\nAny news?\nStill waiting <3" in (
        follow_up.part("plain")
    )
    assert "Still waiting &lt;3" in follow_up.part("html")
    assert note.header("Message-ID") == f"<offload.{CID}.close@example.com>"
    assert note.header("In-Reply-To") == TICKET_MESSAGE_ID
    assert "has ended (resolved, by the user)" in note.part("plain")


@bounded(20)
async def test_a_follow_up_after_a_restart_still_threads(plain: MailServer) -> None:
    async with running(plain.config()) as provider:  # a fresh process: it never opened CID
        await provider.deliver(sample_message(CID, TICKET, "m_late", "Hello?"))
        await provider.close(Closing(ConversationRef(CID, TICKET), "resolved", "user"))
    (follow_up,) = plain.received  # a ticket has nothing to close: no note
    assert follow_up.header("In-Reply-To") == TICKET_MESSAGE_ID
    assert follow_up.header("Subject") == f"Re: [{TICKET}] Conversation {CID}"


# -- reading replies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (GMAIL_STYLE, "We found your order, it ships today."),
        (
            "Sure, done.\n\n-----Original Message-----\nFrom: Support Hub\nSent: today\n",
            "Sure, done.",
        ),
        (
            "Fixed.\n\n________________________________\nFrom: Support Hub <hub@example.com>\n"
            "Sent: Monday\nSubject: [T-X]\n",
            "Fixed.",
        ),
        (
            "C'est réglé.\n\nLe lun. 23 nov. 2026 à 10:00, Hub <hub@example.com> a écrit :\n> x",
            "C'est réglé.",
        ),
        ("Erledigt.\n\nAm 23.11.2026 um 10:00 schrieb Hub <hub@example.com>:\n> x", "Erledigt."),
        ("Two lines\nof answer.\n> quoted\n\n-- \nAna, Support\n", "Two lines\nof answer."),
        ("Done.\n\n##- Please type your reply above this line -##\nold", "Done."),
        ("Done.\n\nSent from my iPhone", "Done."),
        ("> only quoted\n", ""),
    ],
)
def test_quoted_history_is_cut(body: str, expected: str) -> None:
    assert strip_quoted(body) == expected


def test_an_html_only_reply_is_read_as_text_without_its_quote() -> None:
    html = (
        '<div dir="ltr">Your parcel is <b>on its way</b>.<br>Tracking: 123</div>'
        '<div class="gmail_quote"><div>On Mon wrote:</div><blockquote>old <div>stuff</div>'
        "</blockquote></div><p>after</p>"
    )
    message = EmailMessage()
    message["From"] = "Ana <ana@example.com>"
    message["In-Reply-To"] = TICKET_MESSAGE_ID
    message.set_content(html, subtype="html")
    reply = parse_reply(message.as_bytes(), domain="example.com", ticket_prefix="T")
    assert reply.conversation_id == CID
    assert reply.text == "Your parcel is on its way.\nTracking: 123\n\nafter"
    assert reply.event_id.startswith("sha256:")  # no Message-ID: a stable hash instead
    assert (reply.sender_name, reply.sender_address) == ("Ana", "ana@example.com")


def test_the_thread_wins_over_the_subject_and_foreign_ids_are_not_ours() -> None:
    foreign = raw_reply("Hi", in_reply_to="<offload.c_other.ticket@elsewhere.example>")
    reply = parse_reply(foreign, domain="example.com", ticket_prefix="T")
    assert (reply.conversation_id, reply.ticket_id) == (None, TICKET)
    threaded = raw_reply("Hi", in_reply_to=f"<offload.{CID}.msg.m_1@EXAMPLE.com>", subject="Re: x")
    reply = parse_reply(threaded, domain="example.com", ticket_prefix="T")
    assert (reply.conversation_id, reply.ticket_id) == (CID, None)


def test_ticket_ids_and_message_ids_read_back_without_memory() -> None:
    assert references.ticket_id(CID, "T") == TICKET
    assert references.conversation_of_ticket(TICKET, "T") == CID
    assert references.ticket_in_subject(f"Re: Fwd: [{TICKET}] Order", "T") == TICKET
    assert references.ticket_in_subject(f"About {TICKET} again", "T") == TICKET
    odd = "Conv 42/ü"  # not a hub id: a hashed ticket id, a hex Message-ID piece
    hashed = references.ticket_id(odd, "T")
    assert hashed.startswith("T-X-") and references.conversation_of_ticket(hashed, "T") is None
    mid = references.message_id("msg", odd, "example.com", "m 1")
    assert references.conversation_of_message_id(mid, "example.com") == odd
    assert references.conversation_of_message_id(mid, "other.example") is None
    assert references.conversation_of_message_id("<ticket.c_x@example.com>", "example.com") is None


# -- the config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"security": "none", "username": "u", "password": "p"}, "in the clear"),
        ({"username": "u"}, "username and password go together"),
        ({"subject_template": "Help: {inquiry}"}, "must contain {ticket_id}"),
        ({"subject_template": "[{ticket_id}] {secret}"}, "unknown field {secret}"),
        ({"subject_template": "[{ticket_id.__class__}]"}, "unknown field"),
        ({"support_address": "not an address"}, "not an email address"),
        ({"from_address": "a@b.example\r\nBcc: x@y.example"}, "one line"),
        ({"ca_file": "/no/such/ca.pem"}, "ca_file"),
        ({"inbound_secret": "short"}, "at least 16"),
        ({"ticket_prefix": "t-"}, "ticket_prefix"),
    ],
)
def test_config_mistakes_are_named(changes: dict[str, Any], problem: str) -> None:
    values = {
        "host": "127.0.0.1",
        "from_address": "hub@example.com",
        "support_address": "support@example.com",
        **changes,
    }
    with pytest.raises(ValidationError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        EmailConfig.model_validate(values)


# -- through a real hub: tickets, replies, the chain ----------------------------------------------


def hub_config(server: MailServer, *chain: str, **changes: Any) -> dict[str, Any]:
    mail = {
        "type": "email",
        **server.config(reply_to=INBOUND, inbound_secret=SECRET, **changes),
    }
    providers: dict[str, Any] = {"mail": mail}
    for name in chain:
        if name == "fallback":
            providers[name] = {"type": "scripted", "mode": "ticket"}
        elif name == "desk":
            providers[name] = {"type": "scripted", "mode": "no-agents"}
    return {
        "providers": providers,
        "queues": [{"name": "support", "chain": list(chain or ["mail"])}],
        "provider_timeout_seconds": HUB_CALL_SECONDS,
    }


async def escalate(hub: Any, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user": {
            "name": "Jo",
            "lastName": "Doe",
            "email": "jo@example.com",
            "language": "en",
            "extra": {"plan": "gold"},
        },
        "inquiry": "My order A-17 is late",
        "transcript": TRANSCRIPT,
        "data": {"orderId": "A-17"},
    }
    body.update(changes)
    return await hub.chatbot.escalate(expect=201, **body)  # type: ignore[no-any-return]


async def post_inbound(
    hub: Any,
    raw: bytes,
    *,
    secret: str | None = SECRET,
    content_type: str | None = "message/rfc822",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    """POST to the inbound route; ``content_type=None`` lets aiohttp set it (forms)."""
    sent: dict[str, str] = {}
    if content_type is not None:
        sent["Content-Type"] = content_type
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    sent.update(headers or {})
    response = await hub.client.post(
        "/providers/mail/inbound", data=kwargs.pop("data", raw), headers=sent, **kwargs
    )
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def messages(hub: Any, cid: str) -> list[tuple[str, str, str | None]]:
    snapshot = await hub.chatbot.call("GET", f"/v1/conversations/{cid}", conversation_id=cid)
    return [(m["author"], m["message"], m["agentName"]) for m in snapshot["messages"]]


def ticket_of(cid: str) -> str:
    return "T-" + cid.removeprefix("c_").upper()


def ticket_created(
    hub: Any, cid: str, ticket: str, provider: str = "mail"
) -> list[tuple[str, Any]]:
    """What the chatbot sees of a ticket made at once (nobody attended the chat)."""
    return [
        (
            "displaySystemMessage",
            {"message": "ticket-created", "translate": True, "replacements": {"ticketId": ticket}},
        ),
        ("hideChatbotActivity", {}),
        ("setChatbotName", {"source": "default"}),
        ("setChatbotIcon", {"source": "default"}),
        ("enableInput", {}),
        info(
            (False, cid, hub.chatbot.bot_id),
            status="ticket",
            provider=provider,
            reason="ticket",
            ticketId=ticket,
        ),
    ]


@bounded(30)
async def test_a_ticket_then_a_reply_recorded_on_it_not_shown(
    plain: MailServer, hub_factory: Any
) -> None:
    hub = await hub_factory(**hub_config(plain))
    answer = await escalate(hub)
    cid = answer["conversationId"]
    ticket = ticket_of(cid)
    assert (answer["status"], answer["ticketId"]) == ("ticket", ticket)
    assert await hub.chatbot.actions(cid) == ticket_created(hub, cid, ticket)
    await plain.recorder.wait_for(2)  # the ticket, and the user's confirmation
    (sent,) = plain.recorder.with_header("Message-ID", f"<offload.{cid}.ticket@example.com>")
    assert sent.header("Subject") == f"[{ticket}] My order A-17 is late"
    assert "[2026-11-23T09:58:00Z] Customer: Where is my order?" in sent.part("plain")
    events = await hub.chatbot.events(cid)

    # An agent answers the ticket email; the inbound service posts the raw reply.
    reply = raw_reply(
        GMAIL_STYLE,
        in_reply_to=sent.header("Message-ID"),
        subject="Re: " + sent.header("Subject"),
    )
    status, body = await post_inbound(hub, reply)
    assert (status, body["status"], body["conversationId"]) == (200, "accepted", cid)
    recorded = [("agent", "<p>We found your order, it ships today.</p>", "Ana Agent")]
    assert await messages(hub, cid) == recorded
    assert await hub.chatbot.events(cid) == events  # recorded, not shown: the bot has the chat

    # The service posts it again (it retries): nothing more happens.
    assert await post_inbound(hub, reply) == (200, body)
    assert await messages(hub, cid) == recorded

    # SendGrid's Inbound Parse: a form with the raw message in "email"; only the subject
    # tag says which ticket it is.
    form = aiohttp.FormData()
    form.add_field("to", INBOUND)
    form.add_field(
        "email",
        raw_reply(
            "One more thing: it ships by express.",
            in_reply_to=None,
            subject=f"Re: [{ticket}] My order A-17 is late",
            sender="Bo <bo@example.com>",
            message_id="<reply-2@mail.example.net>",
        ).decode(),
    )
    status, second = await post_inbound(hub, b"", data=form, content_type=None)
    assert (status, second["status"]) == (200, "accepted")
    assert await messages(hub, cid) == [
        *recorded,
        ("agent", "<p>One more thing: it ships by express.</p>", "Bo"),
    ]
    assert await hub.chatbot.events(cid) == events


@bounded(30)
async def test_bad_inbound_requests_are_refused_and_change_nothing(
    plain: MailServer, hub_factory: Any
) -> None:
    hub = await hub_factory(**hub_config(plain))
    cid = (await escalate(hub))["conversationId"]
    ticket = ticket_of(cid)
    events = await hub.chatbot.events(cid)
    good = raw_reply("Hello", in_reply_to=f"<offload.{cid}.ticket@example.com>")

    async def refused(expected: int, code: str, raw: bytes = good, **kwargs: Any) -> None:
        status, body = await post_inbound(hub, raw, **kwargs)
        assert (status, body["error"]["code"]) == (expected, code), body

    await refused(401, "unauthorized", secret=None)
    await refused(401, "unauthorized", secret="inbound-secret-0123456788")
    await refused(401, "unauthorized", secret=None, params={"secret": "wrong"})
    await refused(401, "unauthorized", secret=None, headers={"Authorization": "Basic !!"})
    await refused(400, "bad_request", b"")
    await refused(422, "invalid_message", b"this is not an email at all")
    await refused(422, "invalid_message", b"Subject: no sender\r\n\r\nHello\r\n")
    await refused(400, "bad_request", data={"text": "Hello"}, content_type=None)
    await refused(415, "unsupported_media_type", content_type="application/json")
    await refused(413, "too_large", data=io.BytesIO(good + b"x" * (5 * 1024 * 1024)))
    await refused(404, "unknown_conversation", raw_reply("Hi", in_reply_to=None, subject="Hello"))
    await refused(
        404,
        "unknown_conversation",
        raw_reply("Hi", in_reply_to=None, subject="Re: [T-ZZZZZZZZZZZZZZZZ] Hello"),
    )
    await refused(
        404,
        "unknown_conversation",
        raw_reply("Hi", in_reply_to="<offload.c_zzzzzzzzzzzzzzzz.ticket@example.com>"),
    )
    await refused(422, "empty_reply", raw_reply("> only the quote", subject=f"Re: [{ticket}]"))
    assert await messages(hub, cid) == []
    assert await hub.chatbot.events(cid) == events

    # Out-of-office answers, our own mail and the customer's own mail are not agents.
    thread = f"<offload.{cid}.ticket@example.com>"
    for raw, reason in (
        (
            raw_reply("I am away", in_reply_to=thread, headers={"Auto-Submitted": "auto-replied"}),
            "Auto-Submitted: auto-replied",
        ),
        (raw_reply("Echo", in_reply_to=thread, sender="Hub <HUB@example.com>"), "sent by this hub"),
        (raw_reply("Me again", in_reply_to=thread, sender="jo@example.com"), "by the customer"),
    ):
        status, body = await post_inbound(hub, raw)
        assert (status, body.get("status")) == (200, "ignored"), body
        assert reason in body["reason"]
    assert await messages(hub, cid) == []

    # The secret also works as HTTP Basic's password (credentials in the service's URL).
    basic = aiohttp.encode_basic_auth("inbound", SECRET)
    status, body = await post_inbound(hub, good, secret=None, headers={"Authorization": basic})
    assert (status, body["status"]) == (200, "accepted")


@bounded(30)
async def test_in_chat_mode_replies_are_shown_and_user_messages_follow_by_email(
    plain: MailServer, hub_factory: Any
) -> None:
    hub = await hub_factory(**hub_config(plain, mode="chat", confirm_user=False))
    answer = await escalate(hub)
    cid = answer["conversationId"]
    assert (answer["status"], answer.get("ticketId")) == ("queued", None)
    assert await hub.chatbot.actions(cid) == [info(provider="mail")]

    stored = await hub.chatbot.send(cid, "c1", "Any news?")
    await hub.settled()
    (follow_up,) = plain.recorder.with_header("X-Offload-Message", stored["externalId"])
    assert follow_up.header("In-Reply-To") == f"<offload.{cid}.ticket@example.com>"
    assert "Any news?" in follow_up.part("plain")
    seen = len(await hub.chatbot.events(cid))

    status, body = await post_inbound(
        hub,
        raw_reply(
            "Hi Jo, it ships today.\n\n" + GMAIL_STYLE.split("\n", 2)[2],
            in_reply_to=follow_up.header("Message-ID"),
        ),
    )
    assert (status, body["status"]) == (200, "accepted")
    shown = await hub.chatbot.actions(cid, after=seen)
    assert shown[0] == ("setChatbotName", {"source": "name", "name": "Ana Agent"})
    assert (
        "displayChatbotMessage",
        {
            "type": "answer",
            "message": "<p>Hi Jo, it ships today.</p>",
            "custom": {
                "externalId": body["messageId"],
                "agentId": "email:ana@example.com",
                "agentName": "Ana Agent",
            },
        },
    ) in shown

    await hub.chatbot.call(
        "POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={"reason": "resolved"}
    )
    await hub.settled()
    (note,) = plain.recorder.with_header("Message-ID", f"<offload.{cid}.close@example.com>")
    assert "has ended (resolved, by the user)" in note.part("plain")
    # A reply to a chat that is over is recorded for the agents, not shown to the user.
    seen = len(await hub.chatbot.events(cid))
    status, body = await post_inbound(
        hub,
        raw_reply(
            "Too late?",
            message_id="<reply-9@mail.example.net>",
            in_reply_to=note.header("Message-ID"),
        ),
    )
    assert (status, body["status"]) == (200, "accepted")
    assert len(await hub.chatbot.events(cid)) == seen
    snapshot = await hub.chatbot.call("GET", f"/v1/conversations/{cid}", conversation_id=cid)
    assert "Too late?" in snapshot["messages"][-1]["message"]


@bounded(30)
async def test_a_mail_server_that_keeps_refusing_hands_the_escalation_on(
    hub_factory: Any,
) -> None:
    recorder = Recorder(refuse_data=-1)
    async with mail_server(recorder=recorder) as server:
        hub = await hub_factory(**hub_config(server, "mail", "fallback"))
        answer = await escalate(hub)
        cid = answer["conversationId"]
        fallback_ticket = f"T-{cid[-6:]}"  # the scripted provider's ticket
        assert (answer["status"], answer["ticketId"]) == ("ticket", fallback_ticket)
        assert await hub.chatbot.actions(cid) == ticket_created(
            hub, cid, fallback_ticket, "fallback"
        )
        assert recorder.data_attempts == 3 and server.received == []  # retried, then moved on


@bounded(30)
async def test_no_agents_and_a_failing_mail_server_tell_the_chatbot(hub_factory: Any) -> None:
    recorder = Recorder(refuse_data=-1)
    async with mail_server(recorder=recorder) as server:
        hub = await hub_factory(**hub_config(server, "desk", "mail", retries=1))
        answer = await escalate(hub)
        assert (answer["status"], answer["reason"]) == ("ended", "no-agents")
        actions = await hub.chatbot.actions(answer["conversationId"])
        assert actions[0] == ("displaySystemMessage", {"message": "no-agents", "translate": True})
        assert actions[-1] == info(
            (False, answer["conversationId"], hub.chatbot.bot_id),
            status="ended",
            provider=None,
            reason="no-agents",
        )
        assert recorder.data_attempts == 2


@bounded(30)
async def test_rejected_credentials_keep_the_instance_out_of_the_chain(
    starttls: MailServer, hub_factory: Any
) -> None:
    hub = await hub_factory(**hub_config(starttls, "mail", "fallback", password="not the password"))
    answer = await escalate(hub)
    assert answer["ticketId"] == f"T-{answer['conversationId'][-6:]}"
    assert starttls.recorder.data_attempts == 0
    readiness = await hub.client.get("/readyz")
    assert "credentials rejected" in await readiness.text()


# -- the conformance kit ---------------------------------------------------------------------------


class TestEmailAdapter(ProviderConformance):
    provider_class = EmailProvider
    remote = True
    chat_platform = False  # an SMTP server: its inbound route is tested in this module

    @pytest.fixture
    async def server(self, certificates: Certificates) -> AsyncIterator[MailServer]:
        async with mail_server("starttls", certificates) as server:
            yield server

    @pytest.fixture
    def provider_config(self, server: MailServer) -> dict[str, Any]:
        return server.config(reply_to=INBOUND, inbound_secret=SECRET, retries=1)

    @pytest.fixture
    def delivered_ids(self, server: MailServer) -> Callable[[], Awaitable[list[str]]]:
        async def ids() -> list[str]:
            return [
                str(r.message["X-Offload-Message"])
                for r in server.received
                if r.message["X-Offload-Message"]
            ]

        return ids

    @pytest.fixture
    async def unreachable_config(self, server: MailServer) -> AsyncIterator[dict[str, Any]]:
        async with refused_port() as port:
            yield server.config(port=port, retries=1, timeout=1.0)

    @pytest.fixture
    def agent_side(
        self, server: MailServer, context: RecordingContext, http: aiohttp.ClientSession
    ) -> AgentSide:
        """An agent answers the ticket email from their mail client; the inbound-mail
        service posts the raw reply to the adapter's route (a re-post is a replay)."""

        async def reply(event: AgentEvent) -> None:
            ticket = next(
                r.message
                for r in server.received
                if r.message["X-Offload-Conversation"] == event.conversation.id
                and ".ticket@" in str(r.message["Message-ID"])
            )
            raw = raw_reply(
                event.text,
                in_reply_to=str(ticket["Message-ID"]),
                subject=f"Re: {ticket['Subject']}",
                message_id=f"<{event.event_id}@mail.example.net>",
            )
            async with http.post(
                context.url_for("/inbound"),
                data=raw,
                headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {SECRET}"},
            ) as response:
                assert response.status == 200, await response.text()

        return AgentSide({"agent_message": reply})


# -- what survives a restart, and what comes after stop() ---------------------------------------


@bounded(20)
async def test_nothing_is_sent_twice_across_a_restart_and_nothing_after_stop(
    plain: MailServer,
) -> None:
    context = RecordingContext("mail")  # its store plays the hub's database
    context.own(CID)
    config = plain.config(confirm_user=False, mode="chat")
    async with running(config, context) as provider:
        await provider.open(handoff())
        await provider.deliver(sample_message(CID, TICKET, "m_once"))
    await plain.recorder.wait_for(2)
    async with running(config, context) as restarted:  # a new process, the same store
        await restarted.open(handoff())
        await restarted.deliver(sample_message(CID, TICKET, "m_once"))
    assert len(plain.recorder.received) == 2
    with pytest.raises(ProviderUnavailable):
        await restarted.deliver(sample_message(CID, TICKET, "m_after_stop"))
    with pytest.raises(ProviderUnavailable):
        await restarted.open(handoff())
    assert len(plain.recorder.received) == 2
