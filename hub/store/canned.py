"""Canned responses: saved replies agents insert into a chat."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.ids import new_id
from hub.models import CannedResponse, table
from hub.writer import WriteConnection

CANNED = table(CannedResponse)


def _canned(row: sa.Row[Any]) -> CannedResponse:
    return CannedResponse.model_validate(dict(row._mapping))


async def canned_responses(*, conn: AsyncConnection) -> list[CannedResponse]:
    rows = await conn.execute(sa.select(CANNED).order_by(CANNED.c.title, CANNED.c.id))
    return [_canned(row) for row in rows]


async def add_canned_response(
    title: str, body: str, *, conn: WriteConnection, clock: Clock
) -> CannedResponse:
    row = {"id": new_id("cr"), "title": title, "body": body, "created_at": clock.now()}
    await conn.execute(sa.insert(CANNED).values(**row))
    return CannedResponse.model_validate(row)


async def delete_canned_response(canned_id: str, *, conn: WriteConnection) -> bool:
    result = await conn.execute(sa.delete(CANNED).where(CANNED.c.id == canned_id))
    return bool(result.rowcount)
