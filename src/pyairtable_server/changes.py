"""One write request as a unit: its change, its events, its audit entries, its idempotent answer.

A write handler does its work on the request's session, stages events and audit entries on a
``Change``, and ends with ``await change.commit(body)``. That serialises the answer, stores it for
``Idempotency-Key`` replays, numbers the events, and commits all of it in one transaction: the
change, its events and its stored answer exist together or not at all (contract §6, §8).

Only successful answers are stored. A failed write changed nothing, so a retry with the same key
simply runs again (and may succeed, e.g. after a 429 or a fixed conflict).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from pydantic import BaseModel
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.responses import Response

from . import audit, events
from .clock import utcnow
from .data.indexes import IndexChanges
from .db.driver import Statement, driver_of
from .db.models import IdempotentAnswer, table_of
from .deps import (
    BearerCredentials,
    Principal,
    RequestContext,
    get_context,
    get_optional_principal,
    get_principal,
    get_services,
    session_for,
)
from .errors import ApiError

IDEMPOTENCY_TTL = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
_ANSWERS = table_of(IdempotentAnswer)
_ANSWER_KEYS = ("user_id", "key", "fingerprint", "status_code", "body", "created_at")
# Run on the driver (``db.driver``), in the write's transaction.
_STORE_ANSWER = Statement(insert(_ANSWERS), keys=_ANSWER_KEYS)
_KEYED = (_ANSWERS.c.user_id == bindparam("user_id"), _ANSWERS.c.key == bindparam("key"))
_FIND_ANSWER = Statement(
    select(
        _ANSWERS.c.fingerprint, _ANSWERS.c.status_code, _ANSWERS.c.body, _ANSWERS.c.created_at
    ).where(*_KEYED)
)
_FORGET_ANSWER = Statement(delete(_ANSWERS).where(*_KEYED))


class IdempotencyKeyReused(ApiError):
    status_code = 422
    type = "IDEMPOTENCY_KEY_REUSED"


class IdempotentReplay(Exception):
    """Raised before a handler runs when its answer is already stored; becomes that answer."""

    def __init__(self, status_code: int, body: str | None) -> None:
        super().__init__("idempotent replay")
        self.status_code = status_code
        self.body = body

    def response(self) -> Response:
        body = self.body
        return Response(
            content=body.encode() if body is not None else None,
            status_code=self.status_code,
            media_type="application/json" if body is not None else None,
            headers={REPLAYED_HEADER: "true"},
        )


def install_replay_handler(app: FastAPI) -> None:
    async def on_replay(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IdempotentReplay)
        return exc.response()

    app.add_exception_handler(IdempotentReplay, on_replay)


@dataclass(frozen=True)
class IdempotencyClaim:
    key: str
    fingerprint: str


async def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(await request.body())
    return digest.hexdigest()


async def _stored(db: AsyncSession, user_id: str, claim: IdempotencyClaim) -> None:
    """Raise the replay of a stored answer for this key, or ``IdempotencyKeyReused``.

    An answer older than the retention period is forgotten instead.
    """
    driver = await driver_of(db)
    keyed = {"user_id": user_id, "key": claim.key}
    stored = await driver.one(_FIND_ANSWER, keyed)
    if stored is None:
        return
    fingerprint, status_code, body, created_at = stored
    if created_at < utcnow() - IDEMPOTENCY_TTL:
        await driver.run(_FORGET_ANSWER, keyed)
        return
    if fingerprint != claim.fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request.",
            details={"key": claim.key},
        )
    raise IdempotentReplay(status_code, body)


async def claim_key(db: AsyncSession, user_id: str, key: str, fingerprint: str) -> IdempotencyClaim:
    """The claim of a write whose fingerprint is known only once its body was read as a stream
    (file uploads; ``get_change`` reads the body whole). Raises the replay of a stored answer
    for the key, or ``IdempotencyKeyReused``."""
    claim = IdempotencyClaim(key=key, fingerprint=fingerprint)
    await _stored(db, user_id, claim)
    return claim


class Change:
    """The write in progress. Stage events with ``event``, audit entries with ``audit``."""

    def __init__(
        self,
        db: AsyncSession,
        caller: Principal,
        context: RequestContext,
        claim: IdempotencyClaim | None,
        *,
        dialect: Literal["sqlite", "postgresql"],
        on_commit: Callable[[list[events.Logged]], None] | None = None,
    ) -> None:
        self.db = db
        self.dialect = dialect
        self.caller = caller
        self.context = context
        self.claim = claim
        self._events: list[events.EventDraft] = []
        self._audit: list[dict[str, Any]] = []
        self._on_commit = on_commit
        #: The committed events, once ``commit`` has run.
        self.published: list[events.Logged] = []
        #: Per-field index DDL: in this transaction on SQLite, after the commit on PostgreSQL.
        self.indexes = IndexChanges(db, dialect)

    def event(self, draft: events.EventDraft) -> None:
        self._events.append(draft)

    def audit(
        self,
        action: str,
        *,
        resource_type: str,
        resource_id: str | None,
        workspace_id: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._audit.append(
            audit.entry(
                self.context,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                workspace_id=workspace_id,
                user_id=self.caller.id,
                details=details,
            )
        )

    async def commit(self, body: BaseModel | None = None, *, status_code: int = 200) -> Response:
        """Commit the change with its events and stored answer; return the answer.

        Raises ``IdempotencyKeyReused`` (or answers the stored replay) when a concurrent request
        with the same key committed first.
        """
        content = body.model_dump_json() if body is not None else None
        # Read before commit or rollback, which expire the caller's row (no lazy loads in async).
        user_id = self.caller.id
        try:
            db = self.db
            if db.new or db.dirty or db.deleted:
                await db.flush()  # the ORM's rows first, as the session's autoflush would
            driver = await driver_of(db)
            if self.claim is not None:
                # On PostgreSQL a twin request's insert of the same key waits here for the
                # first to commit, then fails, so this is inside.
                await driver.run(
                    _STORE_ANSWER,
                    {
                        "user_id": user_id,
                        "key": self.claim.key,
                        "fingerprint": self.claim.fingerprint,
                        "status_code": status_code,
                        "body": content,
                        "created_at": utcnow(),
                    },
                )
            await audit.insert_entries(driver, self._audit)
            published = await events.append(
                db, self._events, user_id=user_id, now=utcnow(), driver=driver
            )
            await db.commit()
        except IntegrityError:
            if self.claim is None:
                raise
            # A twin request with the same key won the race; answer as it did.
            await self.db.rollback()
            await _stored(self.db, user_id, self.claim)
            raise
        self.published = published
        if self._on_commit is not None:
            self._on_commit(published)
        engine = self.db.bind
        assert isinstance(engine, AsyncEngine)
        await self.indexes.run_after_commit(engine)
        return Response(
            content=content,
            status_code=status_code,
            media_type="application/json" if content is not None else None,
        )


async def get_change(
    request: Request,
    credentials: BearerCredentials,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Makes a retried write safe: the first answer is replayed for 24 hours.",
        ),
    ] = None,
) -> AsyncIterator[Change]:
    """The write unit of an authenticated request, after any idempotent replay was answered.

    Raises ``AuthError`` as ``CurrentUser`` does. The request's session (``session_for``),
    caller and context are made here rather than as dependencies of their own: FastAPI's
    resolution of each cost a small write a measurable share of its time. The session is
    closed (what was not committed rolled back) when the request ends.
    """
    services = await get_services(request)
    db = session_for(request, services)
    try:
        caller = await get_principal(await get_optional_principal(db, services, credentials))
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(key=idempotency_key, fingerprint=await _fingerprint(request))
            await _stored(db, caller.id, claim)
        yield Change(
            db,
            caller,
            await get_context(request),
            claim,
            dialect=services.dialect,
            on_commit=services.hub.committed,
        )
    finally:
        if services.db.inline:
            # Closed here rather than in a task of its own shielded from cancellation (what
            # ``async with`` does): on an inline SQLite connection closing only rolls back on
            # the loop's thread, with nothing to wait for (see ``deps.get_db``).
            await db.close()
        else:
            await db.__aexit__(None, None, None)  # as ``async with``: closed whatever happens


Write = Annotated[Change, Depends(get_change)]
