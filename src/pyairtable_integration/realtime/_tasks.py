"""Running a few coroutines as one: the first to finish or fail ends the others."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def first_of(*coroutines: Coroutine[Any, Any, object]) -> None:
    """Run ``coroutines`` until one returns or raises, cancel the rest and wait for them.

    Raises whatever the finished one raised (plain exceptions, not an ``ExceptionGroup``: each
    caller handles exactly one failure, the one that ended the group).
    """
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if task in done and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error
