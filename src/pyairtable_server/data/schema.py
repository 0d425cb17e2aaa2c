"""A table with its fields, loaded once per request, and access checks for what hangs below it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.instrumentation import manager_of_class

from ..access import require_workspace
from ..db.driver import Statement, driver_of
from ..db.models import DataBase, DataField, DataTable, Model, WorkspaceMember, table_of
from ..errors import NotFound, PermissionDenied, ValidationFailed
from ..fieldtypes import FieldType
from ..ids import looks_like
from ..permissions import Permission, Role, allows


@dataclass(frozen=True)
class TableSchema:
    """A table row and its fields in display order; fields are found by id or by name."""

    table: DataTable
    fields: list[DataField]
    role: Role

    @property
    def by_id(self) -> dict[str, DataField]:
        return {f.id: f for f in self.fields}

    def find(self, ref: str) -> DataField | None:
        for f in self.fields:
            if f.id == ref or f.name == ref:
                return f
        return None

    def resolve(self, ref: object, *, where: str) -> DataField:
        """The field named ``ref`` (name or id). Raises ``ValidationFailed`` naming ``where``."""
        found = self.find(ref) if isinstance(ref, str) else None
        if found is None:
            raise ValidationFailed.field(where, f"unknown field {str(ref)[:100]!r}")
        return found

    def type_of(self, f: DataField) -> FieldType:
        return cast(FieldType, f.type)


def _deny(role: Role, permission: Permission) -> PermissionDenied:
    return PermissionDenied(
        f"Your role in this workspace ({role}) does not allow {permission}.",
        details={"role": role, "permission": permission},
    )


async def require_base(
    db: AsyncSession, user_id: str, base_id: str, permission: Permission
) -> tuple[DataBase, Role]:
    """The base and the caller's role, if it allows ``permission``.

    Raises ``NotFound`` (no such base, or not a member) or ``PermissionDenied``.
    """
    if not looks_like(base_id, "bas"):
        raise NotFound("No such base.")
    row = (
        await db.execute(
            select(DataBase, WorkspaceMember.role)
            .join(WorkspaceMember, WorkspaceMember.workspace_id == DataBase.workspace_id)
            .where(DataBase.id == base_id, WorkspaceMember.user_id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No such base.")
    base, role = row[0], cast(Role, row[1])
    if not allows(role, permission):
        raise _deny(role, permission)
    return base, role


# Built once: constructing the expressions cost more than running them (see ``deps``).
_TABLE_AND_ROLE = (
    select(DataTable, WorkspaceMember.role)
    .join(WorkspaceMember, WorkspaceMember.workspace_id == DataTable.workspace_id)
    .where(DataTable.id == bindparam("table_id"), WorkspaceMember.user_id == bindparam("user_id"))
)
_TABLE_AND_ROLE_LOCKED = _TABLE_AND_ROLE.with_for_update(of=DataTable)
_FIELDS_IN_ORDER = (
    select(DataField)
    .where(DataField.table_id == bindparam("table_id"))
    .order_by(DataField.position, DataField.created_at, DataField.id)
)


async def require_table(
    db: AsyncSession, user_id: str, table_id: str, permission: Permission, *, lock: bool = False
) -> TableSchema:
    """The table with its fields and the caller's role, if it allows ``permission``.

    ``lock=True`` holds the table row until commit (PostgreSQL): record inserts and schema
    changes of one table queue behind each other. Raises ``NotFound`` or ``PermissionDenied``.
    """
    if not looks_like(table_id, "tbl"):
        raise NotFound("No such table.")
    query = _TABLE_AND_ROLE_LOCKED if lock else _TABLE_AND_ROLE
    row = (await db.execute(query, {"table_id": table_id, "user_id": user_id})).one_or_none()
    if row is None:
        raise NotFound("No such table.")
    table, role = row[0], cast(Role, row[1])
    if not allows(role, permission):
        raise _deny(role, permission)
    fields = await db.scalars(_FIELDS_IN_ORDER, {"table_id": table.id})
    return TableSchema(table=table, fields=list(fields), role=role)


_TABLES, _FIELDS, _MEMBERS = table_of(DataTable), table_of(DataField), table_of(WorkspaceMember)
_TABLE_KEYS = tuple(c.key for c in _TABLES.c)
_FIELD_KEYS = tuple(c.key for c in _FIELDS.c)
# Built once and run on the driver (``db.driver``): the table, the caller's role and the fields,
# one row per field (one row of NULL fields when it has none), in display order.
_TABLE_WITH_FIELDS = Statement(
    select(
        *_TABLES.c,
        _MEMBERS.c.role.label("member_role"),
        *(_FIELDS.c[key].label(f"field_{key}") for key in _FIELD_KEYS),
    )
    .join(_MEMBERS, _MEMBERS.c.workspace_id == _TABLES.c.workspace_id)
    .outerjoin(_FIELDS, _FIELDS.c.table_id == _TABLES.c.id)
    .where(_TABLES.c.id == bindparam("table_id"), _MEMBERS.c.user_id == bindparam("user_id"))
    .order_by(_FIELDS.c.position, _FIELDS.c.created_at, _FIELDS.c.id)
)
_ROLE_AT = len(_TABLE_KEYS)
_FIELDS_AT = _ROLE_AT + 1

M = TypeVar("M", bound=Model)


def detached(model: type[M], values: dict[str, Any]) -> M:
    """An instance of ``model`` holding ``values``, in no session: built as the ORM's loading
    builds one (the class's ``__init__`` records each value as a change to save, several times
    the cost, for objects that are only read or saved by statements of their own)."""
    manager = manager_of_class(model)
    instance: M = manager.new_instance()
    instance.__dict__.update(values)
    return instance


async def read_table(
    db: AsyncSession, user_id: str, table_id: str, permission: Permission
) -> TableSchema:
    """``require_table`` in one statement on the driver, for the record routes: the table and
    its fields are objects outside the session, so changing them saves nothing (the caller
    writes what it changes itself). Raises ``NotFound`` or ``PermissionDenied``.

    Two ORM queries cost a record write more than all its other statements; their objects are
    only read there.
    """
    if not looks_like(table_id, "tbl"):
        raise NotFound("No such table.")
    driver = await driver_of(db)
    rows = await driver.all(_TABLE_WITH_FIELDS, {"table_id": table_id, "user_id": user_id})
    if not rows:
        raise NotFound("No such table.")
    first = rows[0]
    role = cast(Role, first[_ROLE_AT])
    if not allows(role, permission):
        raise _deny(role, permission)
    table = detached(DataTable, dict(zip(_TABLE_KEYS, first[:_ROLE_AT], strict=True)))
    fields = [
        detached(DataField, dict(zip(_FIELD_KEYS, row[_FIELDS_AT:], strict=True)))
        for row in rows
        if row[_FIELDS_AT] is not None
    ]
    return TableSchema(table=table, fields=fields, role=role)


async def require_workspace_member(
    db: AsyncSession, user_id: str, workspace_id: str, permission: Permission
) -> Role:
    """The caller's role in a workspace that allows ``permission`` (see ``require_workspace``)."""
    _, role = await require_workspace(db, user_id, workspace_id, permission)
    return role
