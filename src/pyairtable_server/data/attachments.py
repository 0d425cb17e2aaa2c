"""Attachment values of record writes, checked against the files they name (contract §7).

An attachment cell holds ``{id, filename, size, type, url}`` objects. The server fills them from
the file rows, so a client cannot make an attachment claim another name, size or type than the
file has: it only chooses which files. A record write may name a file that

- belongs to the record's workspace, or
- is private to the writer (uploaded without a table): writing binds it to the record's table
  and workspace, for good.

Any other id, whether it exists elsewhere or not at all, is refused the same way, so a write
cannot probe for files in other workspaces. Attachments the record already held are kept as
stored: the check applies to what a write adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from ..db.models import StoredFile
from ..errors import ValidationFailed
from ..quotas import Quotas
from .schema import TableSchema

#: The name of the route that serves a file's bytes (``routes/files.py``).
CONTENT_ROUTE = "get_file_content"
MAX_IDS_NAMED = 10


def content_url(request: Request, file_id: str) -> str:
    """The absolute URL of a file's bytes: under the configured ``public_url``, else under the
    address the connection came in on.

    Never under the request's ``Host`` header: the client writes it, and these URLs are stored
    in attachment cells and event payloads that other members read.
    """
    path = request.app.url_path_for(CONTENT_ROUTE, file_id=file_id)
    public_url: str | None = request.app.state.services.settings.public_url
    if public_url is not None:
        return f"{public_url}{path}"
    return f"{server_origin(request.scope)}{request.scope.get('root_path', '')}{path}"


def server_origin(scope: Mapping[str, Any]) -> str:
    """``scheme://host[:port]`` of the socket the server accepted the connection on (the ASGI
    scope's ``server``); empty when the server does not say or listens on a Unix socket
    (``[path, None]``), which leaves URLs relative."""
    server = scope.get("server")
    if not server or not server[0] or str(server[0]).startswith("/"):
        return ""
    host, port = str(server[0]), server[1]
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    if ":" in host:
        host = f"[{host}]"
    # No port (as in-process ASGI clients send for a URL without one): the scheme's default.
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def attachment_of(file: StoredFile, url: str) -> dict[str, Any]:
    """The stored attachment object for a file (the key order of ``fieldtypes``)."""
    return {
        "id": file.id,
        "filename": file.filename,
        "size": file.size,
        "type": file.content_type,
        "url": url,
    }


def readable_by(file: StoredFile, user_id: str, workspace_id: str) -> bool:
    """Whether a record write by ``user_id`` in ``workspace_id`` may attach ``file``."""
    if file.workspace_id is None:
        return file.uploaded_by == user_id
    return file.workspace_id == workspace_id


async def bind_attachments(
    db: AsyncSession,
    schema: TableSchema,
    writes: Sequence[tuple[dict[str, Any], Mapping[str, Any] | None]],
    *,
    user_id: str,
    url_for: Callable[[str], str],
    quotas: Quotas,
    prefixes: Sequence[str] | None = None,
) -> None:
    """Fill the attachment cells of validated writes from the files they name; bind private files.

    ``writes`` pairs each write's stored values (changed in place) with the record's stored
    values before it (None for a new record). The files named anew are locked until commit, so
    a concurrent delete either sees the record holding them or makes this write fail.

    Private files bound here start counting against the workspace's storage quota.

    Raises ``ValidationFailed`` naming each attachment field (after its write's prefix) with
    files the writer may not attach, ``QuotaExceeded`` when the private files would take the
    workspace past its quota.
    """
    fields = [f for f in schema.fields if f.type == "attachment"]
    if not fields:
        return
    wanted: list[tuple[int, str, str]] = []  # (write index, field id, file id)
    for index, (values, previous) in enumerate(writes):
        for f in fields:
            cell = values.get(f.id)
            if not cell:
                continue
            held = {item["id"]: item for item in (previous or {}).get(f.id) or []}
            values[f.id] = [held.get(item["id"], item) for item in cell]
            wanted.extend((index, f.id, item["id"]) for item in cell if item["id"] not in held)
    if not wanted:
        return
    ids = sorted({file_id for _, _, file_id in wanted})
    files = {
        file.id: file
        for file in await db.scalars(
            select(StoredFile)
            .where(StoredFile.id.in_(ids))
            .order_by(StoredFile.id)
            .with_for_update()
        )
    }
    table = schema.table
    refused: dict[str, list[str]] = {}
    for index, field_id, file_id in wanted:
        file = files.get(file_id)
        if file is None or not readable_by(file, user_id, table.workspace_id):
            key = f"{prefixes[index] if prefixes else ''}{schema.by_id[field_id].name}"
            refused.setdefault(key, []).append(file_id)
    if refused:
        problems = {
            key: f"no such files in this workspace: {sorted(set(ids))[:MAX_IDS_NAMED]}"
            for key, ids in refused.items()
        }
        names = ", ".join(list(problems)[:5])
        raise ValidationFailed(
            f"Attachments of unknown files: {names}.", details={"fields": problems}
        )
    private = [file for file in files.values() if file.workspace_id is None]
    if private:
        # The file rows are locked already (see quotas: row locks before quota locks).
        await quotas.admit(db, sum(file.size for file in private), workspace_id=table.workspace_id)
        for file in private:
            file.workspace_id, file.table_id = table.workspace_id, table.id
    for index, field_id, file_id in wanted:
        file = files[file_id]
        values = writes[index][0]
        values[field_id] = [
            attachment_of(file, url_for(file_id)) if item["id"] == file_id else item
            for item in values[field_id]
        ]
