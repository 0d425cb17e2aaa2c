"""Page-numbered reads: one page of rows and the total, in one round trip when it can be."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_page(
    db: AsyncSession, query: Select[Any], *, page: int, per_page: int
) -> tuple[list[tuple[Any, ...]], int]:
    """The rows of page ``page`` (1-based) of an ordered ``query``, and how many rows it has in all.

    The total rides along as a window count, so a page with rows costs one query; only a page
    past the end needs a second one to learn the total.
    """
    counted = query.add_columns(func.count().over().label("_total"))
    rows = (await db.execute(counted.limit(per_page).offset((page - 1) * per_page))).all()
    if rows:
        return [tuple(row[:-1]) for row in rows], int(rows[0][-1])
    if page == 1:
        return [], 0
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return [], int(total or 0)
