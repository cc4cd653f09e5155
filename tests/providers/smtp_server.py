"""A real SMTP server for the email adapter's tests: aiosmtpd's ``Controller`` on
127.0.0.1, plain, STARTTLS or implicit TLS, with or without a login, recording every
message it accepts and able to refuse on purpose."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.providers.certificates import Certificates

Security = Literal["none", "starttls", "tls"]

# The hub's limit on a provider call (provider_timeout_seconds) for a hub that sends
# through one of these servers: above what the adapter may take, (retries + 1) * timeout.
HUB_CALL_SECONDS = 20.0

USERNAME = "hub"
PASSWORD = "correct horse battery staple"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None

    def header(self, name: str) -> str:
        # (the stdlib may fold a long header right after its colon: " Re: ..." unfolded)
        return str(self.message[name]).strip()

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()
        return content.replace("\r\n", "\n")  # as written, before SMTP's line endings


@dataclass
class Recorder:
    """The server's handler. ``refuse_data`` answers DATA with ``refusal`` that many times
    (-1: always); ``refuse_rcpt`` answers every RCPT with it."""

    refuse_data: int = 0
    refusal: str = "451 4.3.0 Temporary local problem, try again later"
    refuse_rcpt: str | None = None
    received: list[Received] = field(default_factory=list)
    data_attempts: int = 0
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_attempts += 1
        if self.refuse_data != 0:
            self.refuse_data -= self.refuse_data > 0
            return self.refusal
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        tls = server.transport.get_extra_info("cipher") is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, tls, login)
        )
        return "250 2.0.0 Accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USERNAME.encode()
            and data.password == PASSWORD.encode()
        )
        self.logins.append((data.login.decode() if isinstance(data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def with_header(self, name: str, value: str) -> list[Received]:
        return [r for r in self.received if r.message[name] == value]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        # The server runs in its own thread and loop: polling is the simple, safe way.
        async with asyncio.timeout(timeout):
            while len(self.received) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return list(self.received)


class LocalController(Controller):
    """A Controller on 127.0.0.1 with a port the OS picked (bound before it starts, so no
    other process can take it in between)."""

    def __init__(self, handler: Recorder, **kwargs: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        # server_hostname: the greeting's name, else aiosmtpd asks the resolver for this
        # machine's name on every connection
        super().__init__(
            handler,
            hostname="127.0.0.1",
            port=port,
            server_hostname="mail.test",
            ready_timeout=5,
            **kwargs,
        )

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._socket, ssl=self.ssl_context
        )


@dataclass
class MailServer:
    port: int
    security: Security
    recorder: Recorder
    certificates: Certificates | None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def config(self, **changes: Any) -> dict[str, Any]:
        """An email provider config that sends through this server. The timeout is long
        enough for a starved test machine: no test waits for it to fire (a refused port
        fails at once), and a short one once made the hub's first health check fail."""
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": self.security,
            "from_address": "Support Hub <hub@example.com>",
            "support_address": "Support Team <support@example.com>",
            "local_hostname": "hub.test",
            "timeout": 5.0,
            "retries": 2,
            "retry_backoff": 0.01,
        }
        if self.security != "none":
            assert self.certificates is not None
            values.update(username=USERNAME, password=PASSWORD, ca_file=str(self.certificates.ca))
        values.update(changes)
        return values


@asynccontextmanager
async def mail_server(
    security: Security = "none",
    certificates: Certificates | None = None,
    recorder: Recorder | None = None,
) -> AsyncIterator[MailServer]:
    """Run a server for the block; logins are required with STARTTLS and checked with TLS.

    (aiosmtpd cannot see implicit TLS when it decides whether to offer AUTH, and warns
    about requiring a login it thinks is in the clear, so there the login is offered and
    checked, and a test asserts it happened.)"""
    recorder = recorder or Recorder()
    kwargs: dict[str, Any] = {}
    if security == "starttls":
        assert certificates is not None
        kwargs = {
            "tls_context": certificates.server_context(),
            "require_starttls": True,
            "authenticator": recorder.authenticate,
            "auth_required": True,
        }
    elif security == "tls":
        assert certificates is not None
        kwargs = {
            "ssl_context": certificates.server_context(),
            "authenticator": recorder.authenticate,
            "auth_require_tls": False,
        }
    controller = LocalController(recorder, **kwargs)
    await asyncio.wait_for(asyncio.to_thread(controller.start), 10)
    try:
        yield MailServer(controller.port, security, recorder, certificates)
    finally:
        await asyncio.wait_for(asyncio.to_thread(controller.stop), 10)


@asynccontextmanager
async def refused_port() -> AsyncIterator[int]:
    """A port on 127.0.0.1 that refuses connections (bound, never listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
