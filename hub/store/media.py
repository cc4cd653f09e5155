"""Reading stored files."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Media, table

MEDIA = table(Media)


async def get_media(media_id: str, *, conn: AsyncConnection, content: bool = False) -> Media | None:
    columns = [c for c in MEDIA.columns if content or c.name != "content"]
    row = (await conn.execute(sa.select(*columns).where(MEDIA.c.id == media_id))).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values.setdefault("content", b"")
    return Media.model_validate(values)
