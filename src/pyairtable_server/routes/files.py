"""File service (contract §7): upload, metadata, download, signed download URLs, delete.

Who may do what (contract §4): a file that belongs to a workspace is read by its members
(``file:read``) and deleted by editors and up (``file:write``); a file uploaded without a table
is private to its uploader until a record write attaches it (``data.attachments``). Anyone else
gets 404, as for everything inside a workspace.

Bytes and rows: an upload streams the bytes into storage first (hashed and counted on the way),
then commits the row; if anything fails once the bytes are stored, they are removed. A delete
commits first (the row goes, every record holding the file loses it) and removes the bytes
after; a crash in between leaves unreferenced bytes, never a row without them.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import APIKeyQuery
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response, StreamingResponse

from ..access import require_workspace
from ..changes import Change, Write, claim_key
from ..clock import utcnow
from ..data.attachments import CONTENT_ROUTE, attachment_of, content_url
from ..data.query import Compiler
from ..data.schema import TableSchema, require_table
from ..db.models import DataField, DataRecord, DataTable, StoredFile, WorkspaceMember
from ..deps import DB, BearerCredentials, Context, CurrentUser, Principal, Services, authenticate
from ..errors import (
    ApiError,
    AuthError,
    ErrorEnvelope,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
    error_responses,
)
from ..http.downloads import (
    ByteRange,
    RangeNotSatisfiable,
    content_disposition,
    etag_matches,
    parse_range,
)
from ..http.multipart import MultipartReader, boundary_of, safe_filename
from ..ids import looks_like, new_id
from ..permissions import Permission, Role, allows
from ..quotas import exceeded
from ..schemas.files import (
    FileEnvelope,
    FileOut,
    QuotaUsageOut,
    SignedUrlOut,
    StorageUsageOut,
)
from ..services import AppServices
from ..settings import Settings
from ..signed_urls import MAX_EXPIRES, InvalidSignature, sign, verify
from ..storage import Storage, StorageUnavailable, remove_unreferenced
from .common import SCOPED
from .records import _apply, _require_record

logger = logging.getLogger("pyairtable_server")

router = APIRouter(prefix="/files", tags=["file"], responses=error_responses(401, 422, 429, 500))

#: Room for the multipart framing and the small form fields around the file's bytes.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_FORM_FIELD_LENGTH = 255
FORM_FIELDS = ("table_id", "record_id", "field")
DEFAULT_MEDIA_TYPE = "application/octet-stream"
MAX_MEDIA_TYPE_LENGTH = 255
#: Seconds a client should wait before retrying when the storage failed.
STORAGE_RETRY_AFTER = "30"
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_UNAVAILABLE = error_responses(503)


def upload_body_limit(settings: Settings) -> int:
    """The request body limit of the upload route: the file limit plus the multipart framing.

    The exact limit on the file's bytes is enforced while they stream in."""
    return settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES


class RangeNotSatisfiableError(ApiError):
    status_code = 416
    type = "RANGE_NOT_SATISFIABLE"


# -- access -----------------------------------------------------------------------------------


async def require_file(
    db: AsyncSession, user_id: str, file_id: str, permission: Permission, *, lock: bool = False
) -> tuple[StoredFile, Role | None]:
    """The file and the caller's role in its workspace (None for their own private file), if
    the caller may see it and the role allows ``permission``.

    Raises ``NotFound`` (no such file, or not visible to the caller) or ``PermissionDenied``.
    ``lock=True`` holds the row until commit.
    """
    if not looks_like(file_id, "fil"):
        raise NotFound("No such file.")
    query = select(StoredFile).where(StoredFile.id == file_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    file = await db.scalar(query)
    if file is None:
        raise NotFound("No such file.")
    if file.workspace_id is None:
        if file.uploaded_by != user_id:
            raise NotFound("No such file.")
        return file, None
    role = await db.scalar(
        select(WorkspaceMember.role).where(
            WorkspaceMember.workspace_id == file.workspace_id, WorkspaceMember.user_id == user_id
        )
    )
    if role is None:
        raise NotFound("No such file.")
    role = cast(Role, role)
    if not allows(role, permission):
        raise PermissionDenied(
            f"Your role in this workspace ({role}) does not allow {permission}.",
            details={"role": role, "permission": permission},
        )
    return file, role


def file_out(request: Request, file: StoredFile) -> FileOut:
    return FileOut(
        id=file.id,
        filename=file.filename,
        size=file.size,
        type=file.content_type,
        checksum=f"sha256:{file.sha256}",
        uploaded_by=file.uploaded_by,
        uploaded_at=file.uploaded_at,
        url=content_url(request, file.id),
        workspace_id=file.workspace_id,
        table_id=file.table_id,
    )


def _storage_failed(exc: StorageUnavailable) -> ServiceUnavailable:
    return ServiceUnavailable(str(exc), headers={"Retry-After": STORAGE_RETRY_AFTER})


# -- upload -----------------------------------------------------------------------------------


@dataclass
class _Form:
    table_id: str | None = None
    record_id: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class _Target:
    """Where an upload goes: nowhere in particular (private), a table, or a record's field."""

    schema: TableSchema | None = None
    record: DataRecord | None = None
    field: DataField | None = None


async def _target(db: AsyncSession, user_id: str, form: _Form) -> _Target:
    """Check the form's table, record and field against the caller's role; lock the record.

    Raises ``NotFound``, ``PermissionDenied`` or ``ValidationFailed`` (naming the form field).
    """
    if (form.record_id is None) != (form.field is None):
        missing, given = ("field", "record_id") if form.field is None else ("record_id", "field")
        raise ValidationFailed.field(missing, f"is required with {given}")
    if form.record_id is not None and form.field is not None:
        schema, record = await _require_record(
            db, user_id, form.record_id, "record:write", lock=True
        )
        if not allows(schema.role, "file:write"):
            raise PermissionDenied(f"Your role in this workspace ({schema.role}) may not upload.")
        if form.table_id is not None and form.table_id != schema.table.id:
            raise ValidationFailed.field("table_id", "is not the table of record_id")
        f = schema.find(form.field)
        if f is None or f.type != "attachment":
            raise ValidationFailed.field(
                "field", f"{form.field[:100]!r} is not an attachment field of the record's table"
            )
        return _Target(schema=schema, record=record, field=f)
    if form.table_id is not None:
        return _Target(schema=await require_table(db, user_id, form.table_id, "file:write"))
    return _Target()


async def _precheck(db: AsyncSession, user_id: str, form: _Form) -> str | None:
    """Refuse, before any byte is stored, what the form fields sent so far already forbid; the
    workspace the file will belong to, if they name one."""
    if form.record_id is not None:
        schema, _ = await _require_record(db, user_id, form.record_id, "record:write")
        return schema.table.workspace_id
    if form.table_id is not None:
        return (await require_table(db, user_id, form.table_id, "file:write")).table.workspace_id
    return None


async def _byte_limit(
    services: AppServices, db: AsyncSession, user_id: str, workspace_id: str | None
) -> tuple[int, Callable[[], ApiError]]:
    """The bytes an upload may stream before it is refused, and the error refusing it: the
    upload limit, or the room left in the tightest storage quota when that is less."""
    limit = services.settings.max_upload_bytes
    tightest = await services.quotas.tightest(db, user_id, workspace_id)
    if tightest is not None:
        scope, usage = tightest
        room = usage.room
        if room is not None and room < limit:
            return room, lambda: exceeded(scope, usage)
    return limit, lambda: PayloadTooLarge(
        f"The file is larger than the upload limit of {limit} bytes.",
        details={"max_bytes": limit},
    )


def media_type_of(declared: str | None, filename: str) -> str:
    """The media type to keep: the part's ``Content-Type``, else a guess from the filename,
    else ``application/octet-stream``. Raises ``ValidationFailed`` for a malformed one."""
    if declared:
        essence, _, parameters = declared.partition(";")
        essence, parameters = essence.strip().lower(), parameters.strip()
        if (
            _MEDIA_TYPE.match(essence) is None
            or len(declared) > MAX_MEDIA_TYPE_LENGTH
            or not all(" " <= char <= "~" for char in parameters)
        ):
            raise ValidationFailed.field("file", "has an invalid Content-Type")
        return f"{essence}; {parameters}" if parameters else essence
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE


@dataclass(frozen=True)
class _Blob:
    size: int
    sha256: str


async def _store(
    storage: Storage,
    key: str,
    chunks: AsyncIterator[bytes],
    limit: int,
    too_large: Callable[[], ApiError],
) -> _Blob:
    """Stream ``chunks`` into storage, hashing and counting; all of them or nothing.

    Raises ``too_large()`` at the first byte past ``limit``, ``ServiceUnavailable`` when the
    storage fails; either way nothing is stored.
    """
    digest = hashlib.sha256()
    size = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                refusal = too_large()
                # The rest of the body is not read: the connection cannot be reused.
                refusal.headers["Connection"] = "close"
                raise refusal
            digest.update(chunk)
            yield chunk

    try:
        await storage.put(key, counted())
    except StorageUnavailable as exc:
        raise _storage_failed(exc) from exc
    return _Blob(size=size, sha256=digest.hexdigest())


async def _caller(services: AppServices, credentials: BearerCredentials) -> Principal:
    """Authenticate on a short read session (the write session is opened only to commit)."""
    if credentials is None:
        raise AuthError("Authentication required: send 'Authorization: Bearer <access token>'.")
    async with services.db.reader() as db:
        return await authenticate(credentials.credentials, db, services)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes a retried write safe: the first answer is replayed for 24 hours.",
    ),
]

# The text fields carry no ``type``: a multipart field is text whatever a client meant, and a
# "wrong type" a fuzzer makes up (an empty list, say) is sent as no part at all, which is valid.
_TEXT_FIELD: dict[str, Any] = {"maxLength": MAX_FORM_FIELD_LENGTH}
_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "The bytes, with a filename; the part's Content-Type is the type.",
        },
        "table_id": {
            **_TEXT_FIELD,
            "description": "The table whose workspace the file belongs to (else: private).",
        },
        "record_id": {
            **_TEXT_FIELD,
            "description": "A record to attach the file to (with field).",
        },
        "field": {
            **_TEXT_FIELD,
            "description": "An attachment field of the record's table, by name or id.",
        },
    },
}


@router.post(
    "/upload",
    status_code=201,
    response_model=FileEnvelope,
    responses={
        **SCOPED,
        413: {
            "model": ErrorEnvelope,
            "description": "PAYLOAD_TOO_LARGE past the upload limit; QUOTA_EXCEEDED past the "
            "room left in the uploader's or the workspace's storage quota (details: scope, "
            "quota_bytes, used_bytes)",
        },
        **_UNAVAILABLE,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}},
        }
    },
)
async def upload_file(
    request: Request,
    services: Services,
    context: Context,
    credentials: BearerCredentials,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload a file (multipart ``file``); 201 ``{"file": FileRecord}``.

    With ``table_id`` the file belongs to that table's workspace; with ``record_id`` and
    ``field`` it is also appended to that attachment field of the record, as a record update
    (new version, ``record.updated`` event), in the same transaction. Without either it is
    private to the uploader until a record write attaches it.

    Raises ``PayloadTooLarge`` past ``max_upload_bytes``, ``QuotaExceeded`` (413) past the
    room left in the uploader's or the workspace's storage quota (both while the bytes stream
    in, and again, under the quotas' locks, before the row is committed), and
    ``ServiceUnavailable`` when the storage fails (nothing is stored in any of these cases);
    ``ValidationFailed`` for a malformed form or a field that is not an attachment field;
    ``NotFound``/``PermissionDenied`` as for records.
    """
    caller = await _caller(services, credentials)
    storage = services.storage
    # The idempotency fingerprint of ``changes``, computed over the body as it streams past.
    digest = hashlib.sha256()
    for piece in (request.method, request.url.path, request.url.query):
        digest.update(piece.encode())
        digest.update(b"\0")

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            digest.update(chunk)
            yield chunk

    reader = MultipartReader(body(), boundary_of(request.headers.get("content-type")))
    form = _Form()
    file_id = new_id("fil")
    blob: _Blob | None = None
    filename = media_type = ""
    try:
        while (part := await reader.next_part()) is not None:
            if part.name == "file":
                if blob is not None:
                    raise ValidationFailed.field("file", "must be sent once")
                if part.filename is None:
                    raise ValidationFailed.field("file", "must be a file part (with a filename)")
                filename = safe_filename(part.filename)
                media_type = media_type_of(part.content_type, filename)
                async with services.db.reader() as db:
                    workspace_id = await _precheck(db, caller.id, form)
                    limit, too_large = await _byte_limit(services, db, caller.id, workspace_id)
                blob = await _store(storage, file_id, reader.chunks(), limit, too_large)
            elif part.name in FORM_FIELDS:
                if getattr(form, part.name) is not None:
                    raise ValidationFailed.field(part.name, "must be sent once")
                value = await reader.read_text(part.name, MAX_FORM_FIELD_LENGTH)
                setattr(form, part.name, value or None)
            else:
                raise ValidationFailed.field(part.name[:100], "is not a form field of an upload")
        if blob is None:
            raise ValidationFailed.field("file", "is required")
        async with services.db.writer() as db:
            claim = (
                await claim_key(db, caller.id, idempotency_key, digest.hexdigest())
                if idempotency_key is not None
                else None
            )
            change = Change(
                db,
                caller,
                context,
                claim,
                dialect=services.dialect,
                on_commit=services.hub.committed,
            )
            target = await _target(db, caller.id, form)
            table = target.schema.table if target.schema is not None else None
            await services.quotas.admit(
                db,
                blob.size,
                user_id=caller.id,
                workspace_id=table.workspace_id if table is not None else None,
            )
            file = StoredFile(
                id=file_id,
                workspace_id=table.workspace_id if table is not None else None,
                table_id=table.id if table is not None else None,
                uploaded_by=caller.id,
                filename=filename,
                content_type=media_type,
                size=blob.size,
                sha256=blob.sha256,
                uploaded_at=utcnow(),
            )
            db.add(file)
            if target.schema is not None and target.record is not None and target.field:
                _attach_uploaded(change, request, target.schema, target.record, target.field, file)
            change.audit(
                "file.uploaded",
                resource_type="file",
                resource_id=file_id,
                workspace_id=file.workspace_id,
                details={"filename": filename, "size": blob.size, "record_id": form.record_id},
            )
            return await change.commit(FileEnvelope(file=file_out(request, file)), status_code=201)
    except BaseException:
        if blob is not None:
            await remove_unreferenced(storage, [file_id], whose="failed upload")
        raise


def _attach_uploaded(
    change: Change,
    request: Request,
    schema: TableSchema,
    record: DataRecord,
    field: DataField,
    file: StoredFile,
) -> None:
    """Append the new file to a record's attachment field, as a record update."""
    held = list(record.fields.get(field.id) or [])
    values = {
        **record.fields,
        field.id: [*held, attachment_of(file, content_url(request, file.id))],
    }
    _apply(change, schema, record, values)
    change.audit(
        "record.updated",
        resource_type="record",
        resource_id=record.id,
        workspace_id=schema.table.workspace_id,
    )


# -- metadata and signed URLs -----------------------------------------------------------------


# Declared before /{file_id}, which would otherwise take "usage" for a file id.
@router.get("/usage", response_model=StorageUsageOut, responses=SCOPED)
async def get_storage_usage(
    caller: CurrentUser,
    db: DB,
    services: Services,
    workspace_id: Annotated[
        str | None,
        Query(max_length=64, description="Also answer this workspace's usage (members only)."),
    ] = None,
) -> StorageUsageOut:
    """The bytes of stored files counted against the caller's storage quota, and against a
    workspace's with ``workspace_id``; an upload past either quota is 413 ``QUOTA_EXCEEDED``.

    Raises ``NotFound`` for a workspace the caller is not a member of.
    """
    user = await services.quotas.of_user(db, caller.id)
    workspace = None
    if workspace_id is not None:
        await require_workspace(db, caller.id, workspace_id, "file:read")
        workspace = await services.quotas.of_workspace(db, workspace_id)
    return StorageUsageOut(
        user=QuotaUsageOut(used_bytes=user.used_bytes, quota_bytes=user.quota_bytes),
        workspace=(
            QuotaUsageOut(used_bytes=workspace.used_bytes, quota_bytes=workspace.quota_bytes)
            if workspace is not None
            else None
        ),
    )


@router.get("/{file_id}", response_model=FileOut, responses=SCOPED)
async def get_file(file_id: str, request: Request, caller: CurrentUser, db: DB) -> FileOut:
    """A file's ``FileRecord``."""
    file, _ = await require_file(db, caller.id, file_id, "file:read")
    return file_out(request, file)


@router.get("/{file_id}/url", response_model=SignedUrlOut, responses=SCOPED)
async def get_file_url(
    file_id: str, request: Request, caller: CurrentUser, db: DB, services: Services
) -> SignedUrlOut:
    """A URL of the file's bytes that works without a token until ``expires_at``
    (``file_url_ttl_seconds``). Anyone holding it may download the file until then."""
    file, _ = await require_file(db, caller.id, file_id, "file:read")
    expires, signature = sign(
        services.file_url_key,
        file.id,
        now=utcnow(),
        ttl_seconds=services.settings.file_url_ttl_seconds,
    )
    query = urlencode({"expires": expires, "signature": signature})
    return SignedUrlOut(
        url=f"{content_url(request, file.id)}?{query}",
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


# -- download ---------------------------------------------------------------------------------

_signed = APIKeyQuery(
    name="signature",
    scheme_name="SignedUrl",
    auto_error=False,
    description=(
        "The signature of a URL from GET /files/{file_id}/url (with its `expires`): the content "
        "route works with it instead of a bearer token until it expires."
    ),
)
# The signature is a credential (the ``SignedUrl`` scheme, an alternative to the bearer token)
# and, for generators that read parameters only, a declared query parameter too.
_SIGNATURE_PARAMETER = {
    "name": "signature",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "With `expires`, from GET /files/{file_id}/url: works instead of a bearer "
    "token until it expires (403 when expired or tampered with).",
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_DOWNLOAD_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in {
        "ETag": 'The checksum as a strong ETag: "sha256-<hex>".',
        "Accept-Ranges": "bytes",
        "Content-Disposition": "attachment, with the filename (RFC 6266).",
    }.items()
}
_CONTENT_RANGE = {"description": "bytes start-end/size", "schema": {"type": "string"}}
_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole file, with its media type.",
        "content": {"*/*": _BINARY},
        "headers": _DOWNLOAD_HEADERS,
    },
    206: {
        "description": "One byte range of the file (Range: bytes=a-b, a- or -n).",
        "content": {"*/*": _BINARY},
        "headers": {**_DOWNLOAD_HEADERS, "Content-Range": _CONTENT_RANGE},
    },
    304: {"description": "Not modified: If-None-Match names the file's ETag."},
    403: {
        "model": ErrorEnvelope,
        "description": "PERMISSION_DENIED (also: a signed URL that is expired or tampered with)",
    },
    404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
    416: {
        "model": ErrorEnvelope,
        "description": "RANGE_NOT_SATISFIABLE",
        "headers": {"Content-Range": {**_CONTENT_RANGE, "description": "bytes */size"}},
    },
    **_UNAVAILABLE,
}


async def _downloadable(
    services: AppServices,
    file_id: str,
    credentials: BearerCredentials,
    expires: int | None,
    signature: str | None,
) -> StoredFile:
    """The file, if the request may read it: by a valid signed URL, else by a bearer token of
    someone with ``file:read``. Raises ``PermissionDenied`` for a bad or expired signature,
    ``AuthError`` with neither, ``NotFound`` as ``require_file``."""
    async with services.db.reader() as db:
        if expires is not None or signature is not None:
            if expires is None or signature is None:
                raise PermissionDenied("A signed download link needs both expires and signature.")
            try:
                verify(services.file_url_key, file_id, expires, signature, now=utcnow())
            except InvalidSignature as exc:
                raise PermissionDenied(str(exc)) from None
            file = await db.get(StoredFile, file_id) if looks_like(file_id, "fil") else None
            if file is None:
                raise NotFound("No such file.")
            return file
        if credentials is None:
            raise AuthError(
                "Authentication required: send 'Authorization: Bearer <access token>' "
                "or use a signed URL from /files/{file_id}/url."
            )
        caller = await authenticate(credentials.credentials, db, services)
        file, _ = await require_file(db, caller.id, file_id, "file:read")
        return file


@router.get(
    "/{file_id}/content",
    name=CONTENT_ROUTE,
    response_class=Response,
    responses=_DOWNLOAD_RESPONSES,
    openapi_extra={"parameters": [_SIGNATURE_PARAMETER]},
)
async def get_file_content(
    file_id: str,
    services: Services,
    credentials: BearerCredentials,
    signature: Annotated[str | None, Depends(_signed)],
    expires: Annotated[
        int | None,
        Query(ge=0, le=MAX_EXPIRES, description="Unix seconds; part of a signed URL."),
    ] = None,
    range_header: Annotated[
        str | None, Header(alias="Range", max_length=1000, description="bytes=a-b, a- or -n")
    ] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=1000)] = None,
    if_range: Annotated[str | None, Header(alias="If-Range", max_length=1000)] = None,
) -> Response:
    """The file's bytes, with a bearer token or as a signed URL (``expires`` + ``signature``).

    ``ETag`` is the checksum; ``If-None-Match`` naming it answers 304. One ``Range`` answers
    206 with ``Content-Range`` (416 with ``Content-Range: bytes */size`` when it starts past the
    end); several ranges, or an ``If-Range`` other than the current ETag, answer the whole file.
    """
    file = await _downloadable(services, file_id, credentials, expires, signature)
    etag = f'"sha256-{file.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(file.filename),
        # Stored by the client only (the URL may carry a signature), revalidated with the ETag.
        "Cache-Control": "private, no-cache",
    }
    if etag_matches(if_none_match, etag, weak=True):
        return Response(status_code=304, headers=headers)
    wanted: ByteRange | None = None
    if if_range is None or etag_matches(if_range, etag, weak=False):
        try:
            wanted = parse_range(range_header, file.size)
        except RangeNotSatisfiable as exc:
            raise RangeNotSatisfiableError(
                str(exc), details={"size": file.size}, headers={"Content-Range": exc.content_range}
            ) from None
    start, length = (wanted.start, wanted.length) if wanted else (0, file.size)
    # Streamed from the storage protocol rather than with Starlette's FileResponse: that needs a
    # local path, and an S3-compatible store serves ranges by itself (a ranged GET).
    try:
        chunks = await services.storage.open(file.id, start=start, length=length)
    except FileNotFoundError:
        logger.error("the bytes of file %s are missing from storage", file.id)
        raise NotFound("The file's content is missing.") from None
    except StorageUnavailable as exc:
        raise _storage_failed(exc) from exc
    headers["Content-Length"] = str(length)
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range
    return StreamingResponse(
        chunks,
        status_code=206 if wanted is not None else 200,
        media_type=file.content_type,
        headers=headers,
    )


# -- delete -----------------------------------------------------------------------------------


async def _detach(change: Change, file: StoredFile, role: Role | None) -> list[str]:
    """Remove the file from every attachment field holding it, as a record update (new version,
    ``record.updated`` event) of each record; the ids of those records. Locks them."""
    if file.workspace_id is None or role is None:
        return []  # a private file is in no record
    db = change.db
    fields = list(
        await db.scalars(
            select(DataField)
            .join(DataTable, DataTable.id == DataField.table_id)
            .where(DataTable.workspace_id == file.workspace_id, DataField.type == "attachment")
            .order_by(DataField.table_id, DataField.id)
        )
    )
    detached: list[str] = []
    for table_id in dict.fromkeys(f.table_id for f in fields):
        table = await db.get(DataTable, table_id)
        assert table is not None
        table_fields = await db.scalars(
            select(DataField)
            .where(DataField.table_id == table_id)
            .order_by(DataField.position, DataField.created_at, DataField.id)
        )
        schema = TableSchema(table=table, fields=list(table_fields), role=role)
        mine = [f for f in fields if f.table_id == table_id]
        compiler = Compiler(schema, change.dialect)
        holders = await db.scalars(
            select(DataRecord)
            .where(
                DataRecord.table_id == table_id,
                or_(*(compiler.has_element(f, file.id) for f in mine)),
            )
            .order_by(DataRecord.id)
            .with_for_update()
        )
        for record in holders:
            values = dict(record.fields)
            for f in mine:
                kept = [item for item in values.get(f.id) or [] if item.get("id") != file.id]
                if kept:
                    values[f.id] = kept
                else:
                    values.pop(f.id, None)
            if _apply(change, schema, record, values):
                detached.append(record.id)
    return detached


@router.delete("/{file_id}", status_code=204, responses={**SCOPED, **_UNAVAILABLE})
async def delete_file(file_id: str, change: Write, services: Services) -> Response:
    """Delete a file: its row, its bytes, and its attachments in every record (each such
    record gets a new version and a ``record.updated`` event). 204.

    Raises ``NotFound`` or ``PermissionDenied`` (``file:write``: editors and up, or the
    uploader of a private file).
    """
    db = change.db
    file, role = await require_file(db, change.caller.id, file_id, "file:write")
    # Record writes lock a record, then the files they attach: locking the holders first, then
    # the file, keeps that order. Writers that attached the file meanwhile are found after.
    detached = await _detach(change, file, role)
    file, role = await require_file(db, change.caller.id, file_id, "file:write", lock=True)
    detached += await _detach(change, file, role)
    await db.delete(file)
    change.audit(
        "file.deleted",
        resource_type="file",
        resource_id=file.id,
        workspace_id=file.workspace_id,
        details={"filename": file.filename, "detached_from": detached},
    )
    response = await change.commit(status_code=204)
    await remove_unreferenced(services.storage, [file_id], whose="deleted file")
    return response
