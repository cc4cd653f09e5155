"""The email adapter's configuration: the ``[providers.<name>]`` table of a ``type = "email"``."""

from __future__ import annotations

import re
import string
from email.utils import parseaddr
from typing import Literal

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator

from providers import ProviderConfig

Security = Literal["none", "starttls", "tls"]
Mode = Literal["ticket", "chat"]

DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "tls": 465}

# The fields a subject template may use (str.format names, no attribute or index access).
SUBJECT_FIELDS = frozenset(
    {"ticket_id", "inquiry", "user_name", "user_email", "language", "queue", "conversation_id"}
)

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9.-]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def mailbox(value: str) -> tuple[str, str]:
    """``"Name <a@b>"`` or ``"a@b"`` as (display name, address); ValueError when it is not one."""
    if "\r" in value or "\n" in value:
        raise ValueError("must be one line")
    name, address = parseaddr(value)
    if not _ADDRESS.match(address):
        raise ValueError(f"{value!r} is not an email address like 'Support <help@example.com>'")
    return name, address


def check_template(template: str, *, require_ticket_id: bool) -> str:
    """A subject template: only the known ``{fields}``, and the ticket id where replies need it."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from None
    names = set()
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in SUBJECT_FIELDS:
            known = ", ".join("{" + name + "}" for name in sorted(SUBJECT_FIELDS))
            raise ValueError(f"unknown field {{{field}}} (known: {known})")
        if spec or conversion:
            raise ValueError(f"{{{field}}} takes no format spec or conversion")
        names.add(field)
    if require_ticket_id and "ticket_id" not in names:
        raise ValueError("must contain {ticket_id} (replies are matched by it)")
    return template


class EmailConfig(ProviderConfig):
    """An SMTP server to send through, who gets the ticket, and how replies come back.

    ``security``: ``none`` (plain SMTP, no login allowed), ``starttls`` (upgrade on the
    submission port, the default) or ``tls`` (implicit TLS, port 465). ``ca_file`` adds the
    certificate authority to trust (a private relay); ``verify_tls = false`` turns checking
    off entirely and should only ever be used for a lab.

    ``mode``: ``ticket`` (the escalation becomes an offline ticket and the chat returns to
    the bot at once) or ``chat`` (the conversation stays open with this provider; the user's
    further messages follow by email and an agent's emailed reply is shown in the chat).

    Replies come back when ``inbound_secret`` is set: the inbound-mail service posts them
    to ``/providers/<name>/inbound`` with that secret, and ``reply_to`` is the address that
    service receives (it is put in the ticket's ``Reply-To``). ``reply_to_user`` also puts
    the customer there, so an agent's reply reaches them by email too (default: yes for
    tickets, no in chat mode, where the chat shows it).

    Each email is sent with up to ``retries`` more attempts after a failure, waiting
    ``retry_backoff`` seconds, doubled each time; keep ``(retries + 1) * timeout`` below
    the hub's ``provider_timeout_seconds``, else the hub gives up on the call first.
    """

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: FilePath | None = None
    verify_tls: bool = True
    local_hostname: str | None = None

    from_address: str
    support_address: str
    reply_to: str | None = None
    reply_to_user: bool | None = None
    confirm_user: bool = True

    mode: Mode = "ticket"
    ticket_prefix: str = Field("T", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    subject_template: str = "[{ticket_id}] {inquiry}"
    confirmation_subject_template: str = "We received your request [{ticket_id}]"
    message_id_domain: str | None = None
    agent_name: str | None = Field(None, min_length=1, max_length=200)

    timeout: float = Field(10.0, gt=0, le=300)
    retries: int = Field(2, ge=0, le=10)
    retry_backoff: float = Field(0.5, ge=0, le=60)

    inbound_secret: SecretStr | None = None
    inbound_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)

    @field_validator("from_address", "support_address", "reply_to")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if value is not None:
            mailbox(value)
        return value

    @field_validator("subject_template")
    @classmethod
    def _subject(cls, value: str) -> str:
        return check_template(value, require_ticket_id=True)

    @field_validator("confirmation_subject_template")
    @classmethod
    def _confirmation_subject(cls, value: str) -> str:
        return check_template(value, require_ticket_id=False)

    @field_validator("message_id_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a domain name")
        return value

    @field_validator("inbound_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _login(self) -> EmailConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.username is not None and self.security == "none":
            raise ValueError(
                "security: a login over an unencrypted connection would send the password "
                "in the clear; use 'starttls' or 'tls'"
            )
        if self.ca_file is not None and self.security == "none":
            raise ValueError("ca_file: only used with security 'starttls' or 'tls'")
        return self

    # -- derived values ---------------------------------------------------------------------

    @property
    def smtp_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @property
    def domain(self) -> str:
        """The right-hand side of the Message-IDs this instance makes."""
        if self.message_id_domain is not None:
            return self.message_id_domain.lower()
        return mailbox(self.from_address)[1].rsplit("@", 1)[1].lower()
