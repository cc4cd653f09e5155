"""Agent accounts, sign-in with throttling, and dashboard sessions.

Every change is a unit of work in the journal (grouped with the hub's other writes); a
unit that fails (an email already taken) fails alone, with its own error.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hub.agents.passwords import hash_password, verify_decoy, verify_password
from hub.clock import Clock
from hub.db import Database
from hub.errors import Conflict, HubError, Invalid, NotFound, Unauthorized
from hub.ids import new_id
from hub.journal import Journal, Scope
from hub.models import AgentAccount, AgentSession, LoginThrottle, table
from providers.input_rules import MAX_URL_CHARS, page_url

AGENTS = table(AgentAccount)
SESSIONS = table(AgentSession)
THROTTLE = table(LoginThrottle)

SESSION_LIFETIME = timedelta(hours=12)
# Failed sign-ins: the first few are free; after that each one doubles the wait.
FREE_FAILURES = 5
MAX_BLOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(minutes=15)

ROLES = ("agent", "admin")
PRESENCES = ("online", "away", "offline")


class TooManyAttempts(HubError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"too many failed sign-ins: try again in {int(retry_after) + 1} seconds",
            retry_after=int(retry_after) + 1,
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    agent: AgentAccount
    token: str
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid(f"{email!r} is not an email address", code="validation_error")
    return email


def _agent(row: sa.Row[Any]) -> AgentAccount:
    return AgentAccount.model_validate(dict(row._mapping))


class AgentAccounts:
    def __init__(self, database: Database, journal: Journal) -> None:
        self.database = database
        self.journal = journal
        self.clock: Clock = journal.clock

    # -- accounts --------------------------------------------------------------------------

    async def create(
        self,
        email: str,
        display_name: str,
        password: str,
        *,
        role: str = "agent",
        max_chats: int = 3,
        skills: list[str] | None = None,
        languages: list[str] | None = None,
        avatar_url: str | None = None,
    ) -> AgentAccount:
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}")
        if not 1 <= max_chats <= 50:
            raise Invalid("max_chats must be between 1 and 50")
        if not display_name.strip():
            raise Invalid("the display name is empty")
        try:
            password_hash = await hash_password(password)
        except ValueError as exc:
            raise Invalid(str(exc), code="weak_password") from None
        now = self.clock.now()
        row = {
            "id": new_id("ag"),
            "email": normal_email(email),
            "display_name": display_name.strip(),
            "avatar_url": avatar_url or None,
            "password_hash": password_hash,
            "role": role,
            "max_chats": max_chats,
            "skills": sorted(set(skills or [])),
            "languages": sorted({language.lower() for language in languages or []}),
            "presence": "offline",
            "last_seen_at": None,
            "disabled": False,
            "created_at": now,
            "updated_at": now,
        }

        async def work(scope: Scope) -> None:
            try:
                await scope.conn.execute(sa.insert(AGENTS).values(**row))
            except IntegrityError:
                raise Conflict(
                    f"an agent with email {row['email']} exists", code="email_taken"
                ) from None

        await self.journal.run(work, isolated=True)
        return AgentAccount.model_validate(row)

    async def get(self, agent_id: str) -> AgentAccount | None:
        async with self.database.lookup() as conn:
            row = (await conn.execute(sa.select(AGENTS).where(AGENTS.c.id == agent_id))).first()
        return None if row is None else _agent(row)

    async def require(self, agent_id: str) -> AgentAccount:
        agent = await self.get(agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id!r} does not exist")
        return agent

    async def all(self) -> list[AgentAccount]:
        async with self.database.read() as conn:
            rows = await conn.execute(sa.select(AGENTS).order_by(AGENTS.c.display_name))
        return [_agent(row) for row in rows]

    async def _update(
        self, agent_id: str, *, end_sessions: bool = False, **values: Any
    ) -> AgentAccount:
        """Set ``values`` on the agent (and end their sessions) in one unit; the agent as
        written."""

        async def work(scope: Scope) -> AgentAccount:
            result = await scope.conn.execute(
                sa.update(AGENTS)
                .where(AGENTS.c.id == agent_id)
                .values(updated_at=scope.now, **values)
            )
            if result.rowcount == 0:
                raise NotFound(f"agent {agent_id!r} does not exist")
            if end_sessions:
                await scope.conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.agent_id == agent_id))
            row = (await scope.conn.execute(sa.select(AGENTS).where(AGENTS.c.id == agent_id))).one()
            return _agent(row)

        return await self.journal.run(work, isolated=True)

    async def update_profile(
        self, agent_id: str, *, display_name: str, avatar_url: str | None
    ) -> AgentAccount:
        name = display_name.strip()
        if not 1 <= len(name) <= 200:
            raise Invalid("the display name must be 1 to 200 characters")
        avatar = (avatar_url or "").strip() or None
        if avatar is not None:
            try:
                page_url(avatar)
            except ValueError:
                raise Invalid("the avatar URL must be an http(s) address") from None
            if len(avatar) > MAX_URL_CHARS:
                raise Invalid(f"the avatar URL must be at most {MAX_URL_CHARS} characters")
        return await self._update(agent_id, display_name=name, avatar_url=avatar)

    async def set_limits(
        self,
        agent_id: str,
        *,
        max_chats: int,
        skills: list[str],
        languages: list[str],
        role: str,
    ) -> AgentAccount:
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}")
        if not 1 <= max_chats <= 50:
            raise Invalid("max_chats must be between 1 and 50")
        return await self._update(
            agent_id,
            max_chats=max_chats,
            skills=sorted({s.strip() for s in skills if s.strip()}),
            languages=sorted({lang.strip().lower() for lang in languages if lang.strip()}),
            role=role,
        )

    async def set_disabled(self, agent_id: str, disabled: bool) -> AgentAccount:
        return await self._update(
            agent_id,
            end_sessions=disabled,
            disabled=disabled,
            **({"presence": "offline"} if disabled else {}),
        )

    async def reset_password(self, agent_id: str, password: str) -> None:
        try:
            password_hash = await hash_password(password)
        except ValueError as exc:
            raise Invalid(str(exc), code="weak_password") from None
        await self._update(agent_id, end_sessions=True, password_hash=password_hash)

    async def set_presence(self, agent_id: str, presence: str) -> AgentAccount:
        if presence not in PRESENCES:
            raise Invalid(f"presence must be one of {', '.join(PRESENCES)}")
        return await self._update(agent_id, presence=presence, last_seen_at=self.clock.now())

    async def seen(self, agent_id: str) -> None:
        """A heartbeat from the agent's dashboard."""
        await self._execute(
            sa.update(AGENTS).where(AGENTS.c.id == agent_id).values(last_seen_at=self.clock.now())
        )

    # -- signing in ------------------------------------------------------------------------

    async def _blocked_for(self, keys: list[str]) -> float:
        now = self.clock.now()
        async with self.database.read() as conn:
            rows = await conn.execute(sa.select(THROTTLE).where(THROTTLE.c.key.in_(keys)))
            waits = [
                (row.blocked_until - now).total_seconds()
                for row in rows
                if row.blocked_until is not None and row.blocked_until > now
            ]
        return max(waits, default=0.0)

    async def _failed(self, keys: list[str]) -> None:
        await self.journal.run(lambda scope: _count_failure(scope, keys), isolated=True)

    async def sign_in(self, email: str, password: str, *, address: str) -> SignedIn:
        """Check the password (throttled per account and per address) and open a session."""
        email = email.strip().lower()
        keys = [f"account:{email}", f"address:{address}"]
        wait = await self._blocked_for(keys)
        if wait > 0:
            raise TooManyAttempts(wait)
        async with self.database.read() as conn:
            row = (await conn.execute(sa.select(AGENTS).where(AGENTS.c.email == email))).first()
        agent = None if row is None else _agent(row)
        if agent is None:
            await verify_decoy(password)
            ok = False
        else:
            ok = await verify_password(agent.password_hash, password)
        if not ok or agent is None or agent.disabled:
            await self._failed(keys)
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        return await self._open_session(agent, forgive=keys[0])

    async def _open_session(self, agent: AgentAccount, *, forgive: str) -> SignedIn:
        """A new session for ``agent``; the failures counted on ``forgive`` are forgotten."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock.now()

        async def work(scope: Scope) -> None:
            await scope.conn.execute(sa.delete(THROTTLE).where(THROTTLE.c.key == forgive))
            await scope.conn.execute(
                sa.insert(SESSIONS).values(
                    token_hash=_hash(token),
                    agent_id=agent.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )

        await self.journal.run(work)
        return SignedIn(agent, token, csrf)

    async def session(self, token: str) -> tuple[AgentAccount, AgentSession] | None:
        """The agent and session behind a cookie's token, if it is valid."""
        now = self.clock.now()
        async with self.database.lookup() as conn:
            row = (
                await conn.execute(
                    sa.select(SESSIONS, AGENTS)
                    .join(AGENTS, AGENTS.c.id == SESSIONS.c.agent_id)
                    .where(SESSIONS.c.token_hash == _hash(token))
                )
            ).first()
        if row is None:
            return None
        mapping = row._mapping
        session = AgentSession.model_validate({c.name: mapping[c] for c in SESSIONS.columns})
        agent = AgentAccount.model_validate({c.name: mapping[c] for c in AGENTS.columns})
        if session.expires_at <= now or agent.disabled:
            return None
        return agent, session

    async def end_session(self, token: str) -> None:
        await self._execute(sa.delete(SESSIONS).where(SESSIONS.c.token_hash == _hash(token)))

    async def end_sessions(self, agent_id: str) -> None:
        await self._execute(sa.delete(SESSIONS).where(SESSIONS.c.agent_id == agent_id))

    async def _execute(self, statement: sa.Executable) -> None:
        """One statement that cannot fail on its own, in the journal's next batch."""

        async def work(scope: Scope) -> None:
            await scope.conn.execute(statement)

        await self.journal.run(work)


async def _count_failure(scope: Scope, keys: list[str]) -> None:
    """A failed sign-in, counted on each key: past the free ones, each doubles the wait."""
    now = scope.now
    conn = scope.conn
    for key in keys:
        row = (await conn.execute(sa.select(THROTTLE).where(THROTTLE.c.key == key))).first()
        failures = 1
        if row is not None and now - row.last_failure_at < FORGET_AFTER:
            failures = row.failures + 1
        blocked = None
        if failures > FREE_FAILURES:
            seconds = min(2 ** (failures - FREE_FAILURES), MAX_BLOCK.total_seconds())
            blocked = now + timedelta(seconds=seconds)
        values = {"failures": failures, "last_failure_at": now, "blocked_until": blocked}
        if row is None:
            await conn.execute(sa.insert(THROTTLE).values(key=key, **values))
        else:
            await conn.execute(sa.update(THROTTLE).where(THROTTLE.c.key == key).values(**values))
