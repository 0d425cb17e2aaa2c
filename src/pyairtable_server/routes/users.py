"""User service (contract §4): the caller's profile and the users they share a workspace with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..changes import Write
from ..clock import utcnow
from ..db.models import User, WorkspaceMember
from ..db.paging import fetch_page
from ..deps import DB, CurrentUser, Principal, caller_user
from ..errors import NotFound, error_responses
from ..ids import looks_like
from ..schemas.common import DEFAULT_PER_PAGE, MAX_PER_PAGE, PageMeta, Text
from ..schemas.users import NameUpdate, ProfileUpdate, UserList, UserOut, UserProfileOut

router = APIRouter(prefix="/users", tags=["user"], responses=error_responses(401, 422, 429, 500))


def apply_name_update(user: User, body: NameUpdate) -> None:
    """Copy the names present in ``body`` onto ``user`` and touch ``updated_at``."""
    if body.first_name is not None:
        user.first_name = body.first_name
    if body.last_name is not None:
        user.last_name = body.last_name
    user.updated_at = utcnow()


def _visible_users(caller: Principal) -> Select[User]:
    """Users the caller may see: themselves and everyone sharing a workspace (admins: all)."""
    query = select(User)
    if caller.role == "admin":
        return query
    mine = select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == caller.id)
    shared = select(WorkspaceMember.user_id).where(WorkspaceMember.workspace_id.in_(mine))
    return query.where(or_(User.id == caller.id, User.id.in_(shared)))


async def visible_user(db: AsyncSession, caller: Principal, user_id: str) -> User:
    """Raises ``NotFound`` unless the caller may see that user."""
    if not looks_like(user_id, "usr"):
        raise NotFound("No such user.")
    user = await db.scalar(_visible_users(caller).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    return user


@router.get("/me", response_model=UserProfileOut)
async def get_profile(caller: CurrentUser, db: DB) -> User:
    """The caller's user with preferences and settings."""
    return await caller_user(db, caller)


@router.put("/me", response_model=UserProfileOut, responses=error_responses(400, 413))
async def update_profile(body: ProfileUpdate, change: Write) -> Response:
    """Change names, and replace preferences or settings when given."""
    user = await caller_user(change.db, change.caller)
    apply_name_update(user, body)
    if body.preferences is not None:
        user.preferences = body.preferences
    if body.settings is not None:
        user.settings = body.settings
    change.audit(
        "user.updated",
        resource_type="user",
        resource_id=user.id,
        workspace_id=None,
        details={"fields": sorted(body.model_fields_set)},
    )
    return await change.commit(UserProfileOut.model_validate(user))


@router.get("", response_model=UserList)
async def list_users(
    caller: CurrentUser,
    db: DB,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE,
    search: Annotated[Text | None, Query(max_length=200)] = None,
) -> UserList:
    """Users sharing a workspace with the caller, optionally matching ``search`` (name or email)."""
    query = _visible_users(caller)
    if search:
        term = search.strip().lower()
        query = query.where(
            or_(
                *(
                    func.lower(column).contains(term, autoescape=True)
                    for column in (User.email, User.first_name, User.last_name)
                )
            )
        )
    rows, total = await fetch_page(
        db, query.order_by(User.created_at, User.id), page=page, per_page=per_page
    )
    return UserList(
        data=[UserOut.model_validate(user) for (user,) in rows],
        pagination=PageMeta.of(page=page, per_page=per_page, total=total),
    )


@router.get("/{user_id}", response_model=UserOut, responses=error_responses(404))
async def get_user(user_id: str, caller: CurrentUser, db: DB) -> User:
    """One user the caller shares a workspace with; 404 otherwise."""
    return await visible_user(db, caller, user_id)
