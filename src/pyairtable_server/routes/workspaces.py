"""Workspace service (contract §4): workspaces, members and roles, and the audit log."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Response
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import require_workspace
from ..changes import Change, Write
from ..clock import utcnow
from ..db.models import (
    AuditEntry,
    DataBase,
    DataField,
    DataTable,
    StoredFile,
    User,
    Workspace,
    WorkspaceMember,
)
from ..db.paging import fetch_page
from ..deps import DB, CurrentUser, Services
from ..errors import Conflict, NotFound, PermissionDenied, ValidationFailed, error_responses
from ..events import EventDraft, position
from ..ids import looks_like, new_id
from ..permissions import Role, may_change_membership
from ..schemas.common import DEFAULT_PER_PAGE, MAX_PER_PAGE, PageMeta, PositionedPageMeta
from ..schemas.workspaces import (
    AuditEntryOut,
    AuditLog,
    MemberIn,
    MemberOut,
    MemberUpdate,
    WorkspaceIn,
    WorkspaceList,
    WorkspaceOut,
    WorkspaceUpdate,
)
from ..storage import remove_unreferenced

router = APIRouter(
    prefix="/workspaces", tags=["workspace"], responses=error_responses(401, 422, 429, 500)
)
_SCOPED = error_responses(403, 404)
# What any route with a JSON body may also answer: unparseable (400) or oversized (413) bodies.
_BODY = error_responses(400, 413)
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


# Built once, like the other statements on hot paths: members of the workspace row beside it.
_MEMBER_COUNT = (
    select(func.count())
    .where(WorkspaceMember.workspace_id == Workspace.id)
    .correlate(Workspace)
    .scalar_subquery()
)


_BASE_COUNT = (
    select(func.count())
    .where(DataBase.workspace_id == Workspace.id)
    .correlate(Workspace)
    .scalar_subquery()
)


async def _workspace_out(db: AsyncSession, workspace: Workspace) -> WorkspaceOut:
    members = await db.scalar(
        select(func.count()).where(WorkspaceMember.workspace_id == workspace.id)
    )
    bases = await db.scalar(select(func.count()).where(DataBase.workspace_id == workspace.id))
    return _to_out(workspace, members or 0, bases or 0)


def _to_out(workspace: Workspace, member_count: int, base_count: int) -> WorkspaceOut:
    return WorkspaceOut.model_validate(
        {**_columns(workspace), "member_count": member_count, "base_count": base_count}
    )


def _member_event(
    change: Change,
    kind: str,
    workspace_id: str,
    member: MemberOut,
    recipients: tuple[str, ...] = (),
) -> None:
    """Stage a membership event; ``recipients`` keeps it readable by a member who just left."""
    payload = {"workspace_id": workspace_id, "member": member.model_dump(mode="json")}
    _workspace_event(change, kind, workspace_id, payload, recipients=recipients)


def _workspace_event(
    change: Change, kind: str, workspace_id: str, payload: dict[str, Any], **extra: Any
) -> None:
    change.event(
        EventDraft(
            f"workspace.{kind}",
            aggregate_id=workspace_id,
            workspace_id=workspace_id,
            payload=payload,
            **extra,
        )
    )


def _columns(row: object) -> dict[str, Any]:
    table = cast(Any, row).__table__
    return {column.key: getattr(row, column.key) for column in table.columns}


async def _member_out(db: AsyncSession, workspace_id: str, user_id: str) -> MemberOut:
    row = (
        await db.execute(
            select(WorkspaceMember, User)
            .join(User, User.id == WorkspaceMember.user_id)
            .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id)
        )
    ).one()
    member, user = row
    return MemberOut.model_validate({**_columns(member), "user": user})


async def _owner_ids(db: AsyncSession, workspace_id: str) -> list[str]:
    rows = await db.scalars(
        select(WorkspaceMember.user_id)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == "owner")
        .order_by(WorkspaceMember.added_at, WorkspaceMember.user_id)
    )
    return list(rows)


async def _keep_an_owner(
    db: AsyncSession, workspace: Workspace, leaving_owner: str, *, removing: bool
) -> None:
    """Refuse to lose the last owner; move ``owner_id`` on if its holder stops being an owner.

    Raises ``Conflict`` when ``leaving_owner`` is the only owner.
    """
    others = [uid for uid in await _owner_ids(db, workspace.id) if uid != leaving_owner]
    if not others:
        current = await _member_out(db, workspace.id, leaving_owner)
        verb = "remove" if removing else "demote"
        raise Conflict(
            f"Cannot {verb} the last owner: a workspace keeps at least one owner.",
            details={"current": current.model_dump(mode="json")},
        )
    if workspace.owner_id == leaving_owner:
        workspace.owner_id = others[0]


@router.get("", response_model=WorkspaceList)
async def list_workspaces(
    caller: CurrentUser, db: DB, page: PageNumber = 1, per_page: PerPage = DEFAULT_PER_PAGE
) -> WorkspaceList:
    """Workspaces the caller is a member of, oldest first."""
    event_position = await position(db)
    rows, total = await fetch_page(
        db,
        select(Workspace, _MEMBER_COUNT, _BASE_COUNT)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == caller.id)
        .order_by(Workspace.created_at, Workspace.id),
        page=page,
        per_page=per_page,
    )
    return WorkspaceList(
        data=[_to_out(workspace, members, bases) for workspace, members, bases in rows],
        pagination=PositionedPageMeta.of(
            page=page, per_page=per_page, total=total, event_position=event_position
        ),
    )


@router.post("", status_code=201, response_model=WorkspaceOut, responses=_BODY)
async def create_workspace(body: WorkspaceIn, change: Write) -> Response:
    """Create a workspace; the caller becomes its owner."""
    db, caller = change.db, change.caller
    now = utcnow()
    workspace = Workspace(
        id=new_id("wsp"),
        name=body.name,
        description=body.description,
        owner_id=caller.id,
        created_at=now,
        updated_at=now,
    )
    db.add(workspace)
    await db.flush()  # the member row references the workspace row
    db.add(
        WorkspaceMember(workspace_id=workspace.id, user_id=caller.id, role="owner", added_at=now)
    )
    change.audit(
        "workspace.created",
        resource_type="workspace",
        resource_id=workspace.id,
        workspace_id=workspace.id,
        details={"name": body.name},
    )
    out = _to_out(workspace, 1, 0)
    _workspace_event(change, "created", workspace.id, {"workspace": out.model_dump(mode="json")})
    return await change.commit(out, status_code=201)


@router.get("/{workspace_id}", response_model=WorkspaceOut, responses=_SCOPED)
async def get_workspace(workspace_id: str, caller: CurrentUser, db: DB) -> WorkspaceOut:
    """One workspace of the caller's."""
    workspace, _ = await require_workspace(db, caller.id, workspace_id, "workspace:read")
    return await _workspace_out(db, workspace)


@router.put("/{workspace_id}", response_model=WorkspaceOut, responses={**_SCOPED, **_BODY})
async def update_workspace(workspace_id: str, body: WorkspaceUpdate, change: Write) -> Response:
    """Rename or re-describe a workspace (owners and admins)."""
    db, caller = change.db, change.caller
    workspace, _ = await require_workspace(db, caller.id, workspace_id, "workspace:write")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    for key, value in changes.items():
        setattr(workspace, key, value)
    workspace.updated_at = utcnow()
    change.audit(
        "workspace.updated",
        resource_type="workspace",
        resource_id=workspace.id,
        workspace_id=workspace.id,
        details={"fields": sorted(changes)},
    )
    await db.flush()
    out = await _workspace_out(db, workspace)
    _workspace_event(change, "updated", workspace.id, {"workspace": out.model_dump(mode="json")})
    return await change.commit(out)


@router.delete("/{workspace_id}", status_code=204, responses=_SCOPED)
async def delete_workspace(workspace_id: str, change: Write, services: Services) -> Response:
    """Delete a workspace with its memberships and data (owners only), its files' bytes too
    (after the commit), which frees their room in their uploaders' storage quotas.

    The audit log keeps its entries; the ``workspace.deleted`` event stays readable by everyone
    who was a member.
    """
    db, caller = change.db, change.caller
    # Locked: an upload into it (whose row needs it) waits, so every file row is found below.
    workspace, _ = await require_workspace(
        db, caller.id, workspace_id, "workspace:delete", lock=True
    )
    members = tuple(
        await db.scalars(
            select(WorkspaceMember.user_id).where(WorkspaceMember.workspace_id == workspace.id)
        )
    )
    await db.execute(delete(WorkspaceMember).where(WorkspaceMember.workspace_id == workspace.id))
    await change.indexes.drop(
        await db.scalars(
            select(DataField.id)
            .join(DataTable, DataTable.id == DataField.table_id)
            .where(DataTable.workspace_id == workspace.id)
        ),
    )
    files = list(
        await db.scalars(
            delete(StoredFile)
            .where(StoredFile.workspace_id == workspace.id)
            .returning(StoredFile.id)
        )
    )
    await db.execute(delete(Workspace).where(Workspace.id == workspace.id))
    change.audit(
        "workspace.deleted",
        resource_type="workspace",
        resource_id=workspace.id,
        workspace_id=workspace.id,
        details={"name": workspace.name},
    )
    _workspace_event(
        change, "deleted", workspace.id, {"workspace_id": workspace.id}, recipients=members
    )
    response = await change.commit(status_code=204)
    await remove_unreferenced(services.storage, files, whose="file of a deleted workspace")
    return response


@router.get("/{workspace_id}/members", response_model=list[MemberOut], responses=_SCOPED)
async def list_members(workspace_id: str, caller: CurrentUser, db: DB) -> list[MemberOut]:
    """Every member with their role and user, in the order they joined."""
    await require_workspace(db, caller.id, workspace_id, "workspace:read")
    rows = await db.execute(
        select(WorkspaceMember, User)
        .join(User, User.id == WorkspaceMember.user_id)
        .where(WorkspaceMember.workspace_id == workspace_id)
        .order_by(WorkspaceMember.added_at, WorkspaceMember.user_id)
    )
    return [MemberOut.model_validate({**_columns(m), "user": u}) for m, u in rows]


@router.post(
    "/{workspace_id}/members",
    status_code=201,
    response_model=MemberOut,
    responses={**_SCOPED, **_BODY, **error_responses(409)},
)
async def add_member(workspace_id: str, body: MemberIn, change: Write) -> Response:
    """Add a user, by id or email, with a role. Only owners may add owners.

    Raises ``ValidationFailed`` for an unknown user, ``Conflict`` if already a member.
    """
    db, caller = change.db, change.caller
    workspace, actor = await require_workspace(
        db, caller.id, workspace_id, "member:write", lock=True
    )
    if not may_change_membership(actor, None, body.role):
        raise PermissionDenied(f"An {actor} cannot add members with the role {body.role}.")
    if body.user_id is not None:
        field, user = (
            "user_id",
            (await db.get(User, body.user_id) if looks_like(body.user_id, "usr") else None),
        )
    else:
        assert body.email is not None
        field, user = "email", await db.scalar(select(User).where(User.email == body.email.lower()))
    if user is None or not user.is_active:
        raise ValidationFailed.field(field, "no active user with this identity")
    existing = await db.get(WorkspaceMember, (workspace.id, user.id))
    if existing is not None:
        current = await _member_out(db, workspace.id, user.id)
        raise Conflict(
            "That user is already a member.", details={"current": current.model_dump(mode="json")}
        )
    db.add(
        WorkspaceMember(
            workspace_id=workspace.id, user_id=user.id, role=body.role, added_by=caller.id
        )
    )
    workspace.updated_at = utcnow()
    change.audit(
        "workspace.member_added",
        resource_type="member",
        resource_id=user.id,
        workspace_id=workspace.id,
        details={"role": body.role},
    )
    await db.flush()
    answer = await _member_out(db, workspace.id, user.id)
    _member_event(change, "member_added", workspace.id, answer)
    return await change.commit(answer, status_code=201)


@router.patch(
    "/{workspace_id}/members/{user_id}",
    response_model=MemberOut,
    responses={**_SCOPED, **_BODY, **error_responses(409)},
)
async def update_member(
    workspace_id: str, user_id: str, body: MemberUpdate, change: Write
) -> Response:
    """Change a member's role. Only owners grant or take away the owner role.

    Raises ``Conflict`` when it would leave the workspace without an owner.
    """
    db, caller = change.db, change.caller
    workspace, actor = await require_workspace(
        db, caller.id, workspace_id, "member:write", lock=True
    )
    member = await db.get(WorkspaceMember, (workspace.id, user_id))
    if member is None:
        raise NotFound("No such member.")
    current = cast(Role, member.role)
    if not may_change_membership(actor, current, body.role):
        raise PermissionDenied(f"An {actor} cannot change a {current} into a {body.role}.")
    if current == "owner" and body.role != "owner":
        await _keep_an_owner(db, workspace, user_id, removing=False)
    member.role = body.role
    workspace.updated_at = utcnow()
    change.audit(
        "workspace.member_updated",
        resource_type="member",
        resource_id=user_id,
        workspace_id=workspace.id,
        details={"from": current, "to": body.role},
    )
    await db.flush()
    answer = await _member_out(db, workspace.id, user_id)
    _member_event(change, "member_updated", workspace.id, answer)
    return await change.commit(answer)


@router.delete(
    "/{workspace_id}/members/{user_id}",
    status_code=204,
    responses={**_SCOPED, **error_responses(409)},
)
async def remove_member(workspace_id: str, user_id: str, change: Write) -> Response:
    """Remove a member; any member may remove themselves (leave).

    Raises ``Conflict`` when it would remove the last owner.
    """
    db, caller = change.db, change.caller
    leaving = user_id == caller.id
    workspace, actor = await require_workspace(
        db, caller.id, workspace_id, "workspace:read" if leaving else "member:write", lock=True
    )
    member = await db.get(WorkspaceMember, (workspace.id, user_id))
    if member is None:
        raise NotFound("No such member.")
    current = cast(Role, member.role)
    if not leaving and not may_change_membership(actor, current, None):
        raise PermissionDenied(f"An {actor} cannot remove a {current}.")
    if current == "owner":
        await _keep_an_owner(db, workspace, user_id, removing=True)
    removed = await _member_out(db, workspace.id, user_id)
    await db.delete(member)
    workspace.updated_at = utcnow()
    change.audit(
        "workspace.member_removed",
        resource_type="member",
        resource_id=user_id,
        workspace_id=workspace.id,
        details={"role": current},
    )
    _member_event(change, "member_removed", workspace.id, removed, recipients=(user_id,))
    return await change.commit(status_code=204)


@router.get("/{workspace_id}/audit-log", response_model=AuditLog, responses=_SCOPED)
async def audit_log(
    workspace_id: str,
    caller: CurrentUser,
    db: DB,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> AuditLog:
    """The workspace's writes, newest first (owners and admins)."""
    await require_workspace(db, caller.id, workspace_id, "audit:read")
    rows, total = await fetch_page(
        db,
        select(AuditEntry)
        .where(AuditEntry.workspace_id == workspace_id)
        .order_by(AuditEntry.id.desc()),
        page=page,
        per_page=per_page,
    )
    return AuditLog(
        data=[AuditEntryOut.model_validate(entry) for (entry,) in rows],
        pagination=PageMeta.of(page=page, per_page=per_page, total=total),
    )
