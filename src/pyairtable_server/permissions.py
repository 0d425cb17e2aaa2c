"""The workspace role matrix of contract §4, as data and pure functions.

Everything below a workspace (bases, tables, records, files…) inherits the caller's workspace role.
Two permissions extend the contract's table: ``workspace:transfer`` (granting or taking away the
owner role, owners only) and ``audit:read`` (the audit log, owners and admins).
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["owner", "admin", "editor", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)

Permission = Literal[
    "workspace:read",
    "base:read",
    "table:read",
    "record:read",
    "file:read",
    "record:write",
    "file:write",
    "base:write",
    "table:write",
    "field:write",
    "view:write",
    "webhook:write",
    "member:write",
    "workspace:write",
    "audit:read",
    "workspace:delete",
    "workspace:transfer",
]
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)

_READ: frozenset[Permission] = frozenset(
    {"workspace:read", "base:read", "table:read", "record:read", "file:read"}
)
_EDIT: frozenset[Permission] = _READ | {"record:write", "file:write"}
_ADMIN: frozenset[Permission] = _EDIT | {
    "base:write",
    "table:write",
    "field:write",
    "view:write",
    "webhook:write",
    "member:write",
    "workspace:write",
    "audit:read",
}
_OWNER: frozenset[Permission] = _ADMIN | {"workspace:delete", "workspace:transfer"}

GRANTS: dict[Role, frozenset[Permission]] = {
    "viewer": _READ,
    "editor": _EDIT,
    "admin": _ADMIN,
    "owner": _OWNER,
}


def allows(role: Role, permission: Permission) -> bool:
    """Whether a member with ``role`` holds ``permission``."""
    return permission in GRANTS[role]


def permissions_of(role: Role) -> list[Permission]:
    """The permissions of ``role`` in the canonical order of ``PERMISSIONS``."""
    return [permission for permission in PERMISSIONS if permission in GRANTS[role]]


def may_change_membership(actor: Role, current: Role | None, wanted: Role | None) -> bool:
    """Whether ``actor`` may move a member from ``current`` to ``wanted`` (``None``: not a member).

    Adding is ``None → role``, removing is ``role → None``. Admins manage everyone but owners;
    only owners grant or take away the owner role.
    """
    if not allows(actor, "member:write"):
        return False
    touches_owner = current == "owner" or wanted == "owner"
    return not touches_owner or allows(actor, "workspace:transfer")
