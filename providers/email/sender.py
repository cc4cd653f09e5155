"""Sending through SMTP with aiosmtplib: one connection per email, a few quick retries,
and every failure turned into the SDK's typed errors.

- the server rejected the login (535 and friends): ``ProviderAuthError``, not retried;
- a permanent refusal (5xx, a certificate that does not verify, a missing STARTTLS):
  ``ProviderRefused``, not retried;
- anything that may pass (connection refused or lost, timeouts, 4xx): retried
  ``config.retries`` times with a doubling backoff, then ``ProviderTransientError``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from providers import (
    Health,
    ProviderAuthError,
    ProviderConfigError,
    ProviderRefused,
    ProviderTransientError,
)
from providers.email.compose import Outgoing
from providers.email.config import EmailConfig

_AUTH_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True, slots=True)
class Failure:
    kind: Literal["auth", "permanent", "transient"]
    detail: str


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify(exc: BaseException) -> Failure | None:
    """What kind of failure an exception of a send is; None when it is not an SMTP or
    network failure at all (a bug, which the caller lets through)."""
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Failure("permanent", f"the server's TLS certificate was rejected: {cause}")
    if isinstance(exc, SMTPAuthenticationError) or (
        isinstance(exc, SMTPResponseException) and exc.code in _AUTH_CODES
    ):
        return Failure("auth", f"{exc.code} {exc.message}")
    if isinstance(exc, SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        permanent = all(500 <= code < 600 for code in codes)
        return Failure("permanent" if permanent else "transient", f"recipients refused: {detail}")
    if isinstance(exc, SMTPResponseException):
        kind: Literal["permanent", "transient"] = (
            "permanent" if 500 <= exc.code < 600 else "transient"
        )
        return Failure(kind, f"{exc.code} {exc.message}")
    if isinstance(exc, (SMTPServerDisconnected, SMTPConnectError, SMTPTimeoutError)):
        return Failure("transient", str(exc) or type(exc).__name__)
    if isinstance(exc, (SMTPNotSupported, SMTPException)):
        return Failure("permanent", str(exc) or type(exc).__name__)
    if isinstance(exc, (OSError, TimeoutError)):
        return Failure("transient", f"{type(exc).__name__}: {exc}")
    return None


def tls_context(config: EmailConfig) -> ssl.SSLContext | None:
    """The client TLS settings: the system's CAs plus ``ca_file``, unless verification is off."""
    if config.security == "none":
        return None
    context = ssl.create_default_context()
    if config.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(config.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ProviderConfigError(f"ca_file: cannot load {config.ca_file}: {exc}") from None
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpSender:
    def __init__(self, config: EmailConfig, logger: logging.Logger) -> None:
        self.config = config
        self.log = logger
        self._tls: ssl.SSLContext | None = None
        self._local_hostname = config.local_hostname
        self._prepared = False

    async def prepare(self) -> None:
        """Load the TLS settings (reads ``ca_file``; raises ``ProviderConfigError``) and
        find the name to greet servers with, once (it may take a DNS lookup)."""
        self._tls = tls_context(self.config)
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        self._prepared = True

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.smtp_port} ({self.config.security})"

    def _client(self) -> aiosmtplib.SMTP:
        if not self._prepared:
            raise RuntimeError("the email provider was used before start()")
        config = self.config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.smtp_port,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=self._tls,
            username=config.username,
            password=None if config.password is None else config.password.get_secret_value(),
            local_hostname=self._local_hostname,
        )

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        try:
            await client.quit()
        except (SMTPException, OSError):
            pass  # the work is done; a clumsy goodbye changes nothing
        finally:
            client.close()

    async def _send_once(self, outgoing: Outgoing, envelope_from: str) -> None:
        client = self._client()
        try:
            await client.connect()
            await client.send_message(
                outgoing.message, sender=envelope_from, recipients=list(outgoing.recipients)
            )
        except BaseException:
            client.close()
            raise
        await self._quit(client)

    async def send(self, outgoing: Outgoing, envelope_from: str, *, what: str) -> None:
        """Send one email, retrying what may pass; raises the SDK's typed errors."""
        attempts = self.config.retries + 1
        failure: Failure | None = None
        for attempt in range(1, attempts + 1):
            try:
                await self._send_once(outgoing, envelope_from)
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
            else:
                return
            if failure.kind == "auth":
                raise ProviderAuthError(f"{self.where} rejected the login: {failure.detail}")
            if failure.kind == "permanent":
                raise ProviderRefused(f"{self.where} refused the {what}: {failure.detail}")
            self.log.warning(
                "sending the %s through %s failed (attempt %d of %d): %s",
                what,
                self.where,
                attempt,
                attempts,
                failure.detail,
            )
            if attempt < attempts:
                await asyncio.sleep(self.config.retry_backoff * 2 ** (attempt - 1))
        detail = failure.detail if failure is not None else "unknown failure"
        raise ProviderTransientError(
            f"could not send the {what} through {self.where} in {attempts} attempts: {detail}"
        )

    async def check(self) -> Health:
        """Connect (TLS and login as configured), say NOOP and leave."""
        client = self._client()
        try:
            await client.connect()
            await client.noop()
        except Exception as exc:
            client.close()
            failure = classify(exc)
            if failure is None:
                raise
            prefix = {"auth": "credentials rejected", "permanent": "refused"}.get(
                failure.kind, "unreachable"
            )
            return Health(False, f"{prefix}: {self.where}: {failure.detail}")
        await self._quit(client)
        login = f", logged in as {self.config.username}" if self.config.username else ""
        return Health(True, f"{self.where}{login}")
