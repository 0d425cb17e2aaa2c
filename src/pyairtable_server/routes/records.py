"""Record service (contract §6): list and query, read, write one or a batch, all or nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import bindparam, case, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..changes import Change, Write
from ..clock import utcnow
from ..data.attachments import bind_attachments, content_url
from ..data.fields import field_out
from ..data.listing import list_records
from ..data.query import Compiler
from ..data.schema import TableSchema, read_table, require_table
from ..data.values import (
    PlainRecord,
    Projection,
    changes_between,
    check_links,
    record_out,
    validate_write,
)
from ..db.driver import Statement, driver_of
from ..db.models import DataField, DataRecord, DataTable, table_of
from ..deps import DB, CurrentUser, Services
from ..errors import (
    Conflict,
    ErrorEnvelope,
    NotFound,
    ValidationFailed,
    error_responses,
    missing_as,
)
from ..events import EventDraft
from ..http.json_nesting import MAX_JSON_DEPTH, nesting_depth
from ..ids import looks_like, new_id
from ..permissions import Permission
from ..schemas.records import (
    MAX_PAGE_SIZE,
    BatchCreate,
    BatchDelete,
    BatchUpdate,
    DeletedBatch,
    DeletedRecord,
    RecordBatch,
    RecordIn,
    RecordList,
    RecordOut,
    RecordQuery,
    RecordWrite,
)
from ..schemas.views import FilterGroup, SortSpec
from .common import BODY, CONFLICT, SCOPED

router = APIRouter(
    prefix="/records", tags=["record"], responses=error_responses(401, 422, 429, 500)
)

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=64,
        description='The version the write expects, e.g. "7"; another version answers 409.',
    ),
]
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,12})"?$')
#: Writes that may attach files: a private file past its new workspace's quota is 413 too.
ATTACHING = {
    **BODY,
    413: {
        "model": ErrorEnvelope,
        "description": "PAYLOAD_TOO_LARGE; QUOTA_EXCEEDED when private files attached here "
        "would take the workspace past its storage quota",
    },
}
_SORTS = TypeAdapter(list[SortSpec])
_FILTER = TypeAdapter(FilterGroup)


def expected_version(header: str | None) -> int | None:
    """The version an ``If-Match`` header asks for (None: any). Raises ``ValidationFailed``."""
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise ValidationFailed.field("If-Match", 'expected a record version such as "7"')
    return int(match.group(1))


def _json_param(name: str, raw: str | None) -> Any:
    """The decoded JSON of a query parameter. Raises ``ValidationFailed`` naming it when it is
    not JSON or nests deeper than ``MAX_JSON_DEPTH`` (checked before decoding, which recurses)."""
    if raw is None:
        return None
    if nesting_depth(raw) > MAX_JSON_DEPTH:
        raise ValidationFailed.field(name, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed.field(name, "not valid JSON") from exc


def _parsed(name: str, adapter: Any, raw: Any) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ValidationFailed.field(f"{name}.{where}" if where else name, problem["msg"]) from exc


def record_event(
    change: Change,
    kind: str,
    schema: TableSchema,
    record: DataRecord | PlainRecord,
    payload: dict[str, Any],
) -> None:
    table = schema.table
    change.event(
        EventDraft(
            f"record.{kind}",
            aggregate_id=record.id,
            workspace_id=table.workspace_id,
            base_id=table.base_id,
            table_id=table.id,
            version=record.version,
            payload={"table_id": table.id, **payload},
        )
    )


async def _require_record(
    db: AsyncSession,
    user_id: str,
    record_id: str,
    permission: Permission,
    *,
    lock: bool = False,
    lock_table: bool = False,
) -> tuple[TableSchema, DataRecord]:
    """The record and its table's schema, if the caller's role allows ``permission``.

    ``lock=True`` holds the record row until commit, so a version check and the write that
    follows it cannot interleave with another writer's (PostgreSQL; SQLite writers are serial).
    ``lock_table=True`` first holds the table row: every transaction that locks both takes the
    table first (see ``_insert``, schema changes), so two of them can never deadlock.
    """
    record = await db.get(DataRecord, record_id) if looks_like(record_id, "rec") else None
    if record is None:
        raise NotFound("No such record.")
    with missing_as("record"):
        schema = await require_table(db, user_id, record.table_id, permission, lock=lock_table)
    if lock:
        locked = await db.scalar(
            select(DataRecord)
            .where(DataRecord.id == record_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if locked is None:  # deleted while we waited for the lock
            raise NotFound("No such record.")
        record = locked
    return schema, record


_RECORDS = table_of(DataRecord)
# Built once and run on the driver (see ``_insert``): the record a single write changes, held
# until commit on PostgreSQL (SQLite renders no FOR UPDATE: its writers are serial), and the
# write of it.
_LOCK_RECORD = Statement(
    select(*(_RECORDS.c[name] for name in PlainRecord.__slots__))
    .where(_RECORDS.c.id == bindparam("record_id"))
    .with_for_update()
)
_WRITE_RECORD = Statement(
    update(_RECORDS).where(_RECORDS.c.id == bindparam("record_id")),
    keys=("fields", "version", "updated_at", "updated_by"),
)


async def _record_for_write(
    db: AsyncSession, user_id: str, record_id: str
) -> tuple[TableSchema, PlainRecord]:
    """The record, held until commit, and its table's schema, if the caller may write records
    there. Raises ``NotFound`` or ``PermissionDenied``.

    Locked by its first read, before the table's row is read (not locked): the order of
    ``_require_record(lock=True)``, with one statement fewer.
    """
    if not looks_like(record_id, "rec"):
        raise NotFound("No such record.")
    driver = await driver_of(db)
    row = await driver.one(_LOCK_RECORD, {"record_id": record_id})
    if row is None:
        raise NotFound("No such record.")
    record = PlainRecord(*row)
    with missing_as("record"):
        schema = await read_table(db, user_id, record.table_id, "record:write")
    return schema, record


def _check_version(
    schema: TableSchema, record: DataRecord | PlainRecord, expected: int | None
) -> None:
    if expected is not None and expected != record.version:
        raise Conflict(
            f"The record is at version {record.version}, not {expected}.",
            details={"current": record_out(schema, record).model_dump(mode="json")},
        )


async def _attach(
    change: Change,
    request: Request,
    schema: TableSchema,
    writes: list[tuple[dict[str, Any], dict[str, Any] | None]],
    *,
    batch: bool = False,
) -> None:
    """Fill attachment cells from their files (see ``data.attachments``); raises
    ``ValidationFailed`` for files the caller may not attach here."""
    await bind_attachments(
        change.db,
        schema,
        writes,
        user_id=change.caller.id,
        url_for=lambda file_id: content_url(request, file_id),
        quotas=request.app.state.services.quotas,
        prefixes=[f"records.{index}." for index in range(len(writes))] if batch else None,
    )


_FIELDS = table_of(DataField)
_SAVE_OPTIONS = update(_FIELDS).where(_FIELDS.c.id == bindparam("field_id"))


async def _grow_options(
    change: Change, schema: TableSchema, grown: dict[str, dict[str, Any]]
) -> None:
    """Save select choices that typecast added, with a ``field.updated`` event each (the
    schema's fields are not the session's: see ``read_table``)."""
    now = utcnow()
    for field_id, options in grown.items():
        f = schema.by_id[field_id]
        f.options, f.updated_at = options, now
        conn = await change.db.connection()
        await conn.execute(
            _SAVE_OPTIONS, {"field_id": field_id, "options": options, "updated_at": now}
        )
        table = schema.table
        change.event(
            EventDraft(
                "field.updated",
                aggregate_id=f.id,
                workspace_id=table.workspace_id,
                base_id=table.base_id,
                table_id=table.id,
                payload={"field": field_out(f).model_dump(mode="json")},
            )
        )


# Built once and run on the driver (``db.driver``): SQLAlchemy's execution of a small statement
# cost more per write than the statement itself.
_TABLES = table_of(DataTable)
_NUMBER_RECORDS = Statement(
    update(_TABLES)
    .where(_TABLES.c.id == bindparam("table_id"))
    .values(
        next_autonumber=_TABLES.c.next_autonumber + bindparam("count"),
        record_count=_TABLES.c.record_count + bindparam("count"),
    )
    .returning(_TABLES.c.next_autonumber)
)
_INSERT_RECORDS = insert(_RECORDS)
_INSERT_RECORD = Statement(_INSERT_RECORDS, keys=PlainRecord.__slots__)


async def _insert(
    change: Change, schema: TableSchema, values: list[dict[str, Any]]
) -> list[tuple[PlainRecord, RecordOut]]:
    """Insert records, numbering them from the table's counter (which the update locks); each
    with its answer, which its ``record.created`` event carries too.

    One bulk ``INSERT`` of plain rows: the records are not ORM objects of the session (nothing
    later in the request changes them), which spares the unit of work a state per record.
    """
    table = schema.table
    count = len(values)
    driver = await driver_of(change.db)
    next_number = await driver.scalar(_NUMBER_RECORDS, {"table_id": table.id, "count": count})
    first = next_number - count
    now = utcnow()
    records = [
        PlainRecord(
            id=new_id("rec"),
            table_id=table.id,
            autonumber=first + index,
            fields=stored,
            version=1,
            created_at=now,
            updated_at=now,
            created_by=change.caller.id,
            updated_by=change.caller.id,
        )
        for index, stored in enumerate(values)
    ]
    # Plain rows spare the session's unit of work a state per record. On PostgreSQL, one
    # multi-row INSERT rather than one statement per record: every statement opens every index
    # of the shared records table, other tenants' partial ones too. On SQLite, the statement
    # built once, run for each row by the driver (compiling a statement of 100 rows cost more).
    rows = [record.row() for record in records]
    if count == 1 or change.dialect == "sqlite":
        await driver.run_many(_INSERT_RECORD, rows)
    else:
        conn = await change.db.connection()
        await conn.execute(_INSERT_RECORDS.values(rows))
    shown = Projection(schema)
    inserted = []
    for record in records:
        out = shown.out(record)
        record_event(change, "created", schema, record, {"record": out.model_dump(mode="json")})
        inserted.append((record, out))
    return inserted


def _apply(
    change: Change, schema: TableSchema, record: DataRecord | PlainRecord, values: dict[str, Any]
) -> bool:
    """Write new values on a record with an event; False when nothing changed."""
    changes = changes_between(schema, record.fields, values)
    if not changes:
        return False
    record.fields = values
    record.version += 1
    record.updated_at = utcnow()
    record.updated_by = change.caller.id
    out = record_out(schema, record).model_dump(mode="json")
    record_event(change, "updated", schema, record, {"record": out, "changes": changes})
    return True


async def _unlink(change: Change, schema: TableSchema, deleted: list[str]) -> None:
    """Drop deleted records from every link that points at them, as a normal record update
    (new version, ``record.updated`` event) of each record that held such a link."""
    db, table = change.db, schema.table
    links = [
        f
        for f in await db.scalars(
            select(DataField)
            .join(DataTable, DataTable.id == DataField.table_id)
            .where(DataTable.base_id == table.base_id, DataField.type == "reference")
        )
        if f.options.get("referenced_table_id") == table.id
    ]
    gone = set(deleted)
    for link in links:
        linking = (
            schema if link.table_id == table.id else await _schema_of(db, link.table_id, schema)
        )
        holds_any = Compiler(linking, change.dialect).has_any(link, deleted)
        holders = await db.scalars(
            select(DataRecord)
            .where(DataRecord.table_id == link.table_id, holds_any)
            .with_for_update()
        )
        for record in holders:
            if record.id in gone:
                continue
            kept = [rid for rid in record.fields.get(link.id, []) if rid not in gone]
            values = {k: v for k, v in record.fields.items() if k != link.id}
            if kept:
                values[link.id] = kept
            _apply(change, linking, record, values)


async def _schema_of(db: AsyncSession, table_id: str, like: TableSchema) -> TableSchema:
    """Another table of the same workspace, with the role already established for it."""
    table = await db.get(DataTable, table_id)
    assert table is not None
    fields = await db.scalars(
        select(DataField).where(DataField.table_id == table_id).order_by(DataField.position)
    )
    return TableSchema(table=table, fields=list(fields), role=like.role)


async def _removed_count(db: AsyncSession, table_id: str, count: int) -> None:
    await db.execute(
        update(DataTable)
        .where(DataTable.id == table_id)
        .values(record_count=DataTable.record_count - count)
    )


# -- batches ----------------------------------------------------------------------------------


class _Problems:
    """Every bad record of a batch, reported together rather than only the first."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    @contextmanager
    def collect(self) -> Iterator[None]:
        try:
            yield
        except ValidationFailed as exc:
            found = exc.details.get("fields")
            self.fields.update(found if isinstance(found, dict) else {"records": exc.message})

    def raise_any(self) -> None:
        if self.fields:
            names = ", ".join(list(self.fields)[:5])
            raise ValidationFailed(
                f"Invalid field values: {names}. Nothing was written.",
                details={"fields": self.fields},
            )


async def _batch_records(
    db: AsyncSession, schema: TableSchema, ids: list[str], *, lock: bool, where: str
) -> list[DataRecord]:
    """The records of ``ids`` in that order, all of this table. Raises ``ValidationFailed``
    naming the body key ``where`` for duplicates and for ids that are not records of the table."""
    if len(set(ids)) != len(ids):
        raise ValidationFailed.field(where, "the same record id appears twice")
    # Only id-shaped values reach the database (a NUL would make PostgreSQL fail the query).
    wanted = [rid for rid in ids if looks_like(rid, "rec")]
    query = select(DataRecord).where(
        DataRecord.table_id == schema.table.id, DataRecord.id.in_(wanted)
    )
    if lock:
        query = query.with_for_update()
    found = {r.id: r for r in await db.scalars(query)}
    missing = [rid for rid in ids if rid not in found]
    if missing:
        raise ValidationFailed(
            "Some ids are not records of this table.",
            details={"fields": {where: f"not records of this table: {missing[:10]}"}},
        )
    return [found[rid] for rid in ids]


@router.post(
    "/batch", status_code=201, response_model=RecordBatch, responses={**SCOPED, **ATTACHING}
)
async def create_records(body: BatchCreate, change: Write, request: Request) -> Response:
    """Create up to 100 records: all of them, or none when any is invalid."""
    db = change.db
    schema = await read_table(db, change.caller.id, body.table_id, "record:write")
    values = []
    grown: dict[str, dict[str, Any]] = {}
    problems = _Problems()
    for index, item in enumerate(body.records):
        with problems.collect():
            validated = validate_write(
                schema, item.fields, base=None, typecast=body.typecast, prefix=f"records.{index}."
            )
            _merge_grown(schema, grown, validated.options)
            values.append(validated.values)
    problems.raise_any()
    await check_links(db, schema, values)
    await _attach(change, request, schema, [(v, None) for v in values], batch=True)
    await _grow_options(change, schema, grown)
    inserted = await _insert(change, schema, values)
    change.audit(
        "record.batch_created",
        resource_type="record",
        resource_id=None,
        workspace_id=schema.table.workspace_id,
        details={"ids": [record.id for record, _ in inserted]},
    )
    out = RecordBatch(data=[answer for _, answer in inserted])
    return await change.commit(out, status_code=201)


def _merge_grown(
    schema: TableSchema, grown: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> None:
    """Typecast choices from one record of a batch become visible to the next ones."""
    for field_id, options in new.items():
        grown[field_id] = options
        schema.by_id[field_id].options = options


@router.patch("/batch", response_model=RecordBatch, responses={**SCOPED, **ATTACHING})
async def update_records(body: BatchUpdate, change: Write, request: Request) -> Response:
    """Merge fields into up to 100 records of one table: all of them, or none."""
    db = change.db
    schema = await read_table(db, change.caller.id, body.table_id, "record:write")
    records = await _batch_records(
        db, schema, [item.id for item in body.records], lock=True, where="records"
    )
    grown: dict[str, dict[str, Any]] = {}
    values = []
    problems = _Problems()
    for index, (item, record) in enumerate(zip(body.records, records, strict=True)):
        with problems.collect():
            validated = validate_write(
                schema,
                item.fields,
                base=record.fields,
                typecast=body.typecast,
                prefix=f"records.{index}.",
            )
            _merge_grown(schema, grown, validated.options)
            values.append(validated.values)
    problems.raise_any()
    await check_links(db, schema, values)
    held = [r.fields for r in records]
    await _attach(change, request, schema, list(zip(values, held, strict=True)), batch=True)
    await _grow_options(change, schema, grown)
    changed = [r for r, v in zip(records, values, strict=True) if _apply(change, schema, r, v)]
    await _write_back(db, changed)
    change.audit(
        "record.batch_updated",
        resource_type="record",
        resource_id=None,
        workspace_id=schema.table.workspace_id,
        details={"ids": [r.id for r in changed]},
    )
    shown = Projection(schema)
    return await change.commit(RecordBatch(data=[shown.out(r) for r in records]))


_WRITTEN_BACK = ("fields", "version", "updated_at", "updated_by")


async def _write_back(db: AsyncSession, records: list[DataRecord]) -> None:
    """Store changed records with one UPDATE statement instead of the ORM's one per record (see
    ``_insert`` for why the number of statements matters); they leave the session, so that its
    flush does not write them again."""
    if not records:
        return
    columns = DataRecord.__table__.c
    for record in records:  # first: the statement's autoflush would write them one by one
        db.expunge(record)

    def per_record(name: str) -> Any:
        return case(
            {r.id: literal(getattr(r, name), columns[name].type) for r in records},
            value=DataRecord.id,
        )

    await db.execute(
        update(DataRecord)
        .where(DataRecord.id.in_([r.id for r in records]))
        .values({name: per_record(name) for name in _WRITTEN_BACK})
        .execution_options(synchronize_session=False)
    )


@router.post("/batch-delete", response_model=DeletedBatch, responses={**SCOPED, **BODY})
async def delete_records(body: BatchDelete, change: Write) -> Response:
    """Delete up to 100 records of one table: all of them, or none if any id is wrong."""
    db = change.db
    # The table row first, then the records: the lock order every writer keeps.
    schema = await require_table(db, change.caller.id, body.table_id, "record:write", lock=True)
    records = await _batch_records(db, schema, body.ids, lock=True, where="ids")
    # One DELETE statement for the batch (see ``_insert``), the rows out of the session.
    await db.execute(
        delete(DataRecord)
        .where(DataRecord.id.in_([r.id for r in records]))
        .execution_options(synchronize_session=False)
    )
    for record in records:
        db.expunge(record)
        record_event(change, "deleted", schema, record, {"record_id": record.id})
    await _removed_count(db, schema.table.id, len(records))
    await _unlink(change, schema, [r.id for r in records])
    change.audit(
        "record.batch_deleted",
        resource_type="record",
        resource_id=None,
        workspace_id=schema.table.workspace_id,
        details={"ids": body.ids},
    )
    return await change.commit(DeletedBatch(data=[DeletedRecord(id=r.id) for r in records]))


# -- reads ------------------------------------------------------------------------------------


# A URL over 64 KiB is refused with 400 and the envelope (``http.head_limit``); queries that
# long belong in ``POST /records/query``.
_URL_TOO_LONG: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorEnvelope,
        "description": "VALIDATION_ERROR: the URL is longer than 64 KiB; send the query to "
        "POST /records/query.",
    }
}


@router.get("", response_model=RecordList, responses={**SCOPED, **_URL_TOO_LONG})
async def get_records(
    caller: CurrentUser,
    db: DB,
    services: Services,
    table_id: str,
    view_id: str | None = None,
    fields: Annotated[list[str] | None, Query(max_length=500)] = None,
    sort: Annotated[
        str | None, Query(max_length=2_000, description='JSON: [{"field", "direction"}]')
    ] = None,
    filter: Annotated[
        str | None,
        Query(max_length=8_000, description="JSON in the view filters shape"),
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    offset: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response:
    """A page of a table's records (see ``POST /records/query`` for the same as a body)."""
    params = RecordQuery(
        table_id=table_id,
        view_id=view_id,
        fields=fields,
        sort=_parsed("sort", _SORTS, _json_param("sort", sort)) if sort is not None else None,
        filter=_parsed("filter", _FILTER, _json_param("filter", filter))
        if filter is not None
        else None,
        page_size=page_size,
        offset=offset,
    )
    return await _query(db, caller.id, services, params)


@router.post("/query", response_model=RecordList, responses={**SCOPED, **BODY})
async def query_records(
    body: RecordQuery, caller: CurrentUser, db: DB, services: Services
) -> Response:
    """``GET /records`` with its parameters in a JSON body, for long filters."""
    return await _query(db, caller.id, services, body)


async def _query(db: AsyncSession, user_id: str, services: Any, params: RecordQuery) -> Response:
    schema = await require_table(db, user_id, params.table_id, "record:read")
    page = await list_records(
        db,
        schema,
        params,
        dialect=services.dialect,
        offset_key=services.offset_key,
        totals=services.totals,
    )
    # Already JSON (see ``list_records``): returned as a model, FastAPI would validate it again.
    return Response(page, media_type="application/json")


@router.get("/{record_id}", response_model=RecordOut, responses=SCOPED)
async def get_record(record_id: str, caller: CurrentUser, db: DB) -> RecordOut:
    """One record."""
    schema, record = await _require_record(db, caller.id, record_id, "record:read")
    return record_out(schema, record)


# -- single writes ----------------------------------------------------------------------------


@router.post("", status_code=201, response_model=RecordOut, responses={**SCOPED, **ATTACHING})
async def create_record(body: RecordIn, change: Write, request: Request) -> Response:
    """Create a record; ``typecast`` converts loose values and adds missing select choices.

    Raises ``ValidationFailed`` naming each bad or unknown field.
    """
    db = change.db
    schema = await read_table(db, change.caller.id, body.table_id, "record:write")
    validated = validate_write(schema, body.fields, base=None, typecast=body.typecast)
    await check_links(db, schema, [validated.values])
    await _attach(change, request, schema, [(validated.values, None)])
    await _grow_options(change, schema, validated.options)
    ((record, answer),) = await _insert(change, schema, [validated.values])
    change.audit(
        "record.created",
        resource_type="record",
        resource_id=record.id,
        workspace_id=schema.table.workspace_id,
    )
    return await change.commit(answer, status_code=201)


async def _write_one(
    record_id: str,
    body: RecordWrite,
    change: Write,
    request: Request,
    if_match: str | None,
    *,
    merge: bool,
) -> Response:
    expected = expected_version(if_match)
    db = change.db
    schema, record = await _record_for_write(db, change.caller.id, record_id)
    _check_version(schema, record, expected)
    validated = validate_write(
        schema, body.fields, base=record.fields if merge else None, typecast=body.typecast
    )
    await check_links(db, schema, [validated.values])
    await _attach(change, request, schema, [(validated.values, record.fields)])
    await _grow_options(change, schema, validated.options)
    if _apply(change, schema, record, validated.values):
        driver = await driver_of(db)
        await driver.run(
            _WRITE_RECORD,
            {
                "record_id": record.id,
                "fields": record.fields,
                "version": record.version,
                "updated_at": record.updated_at,
                "updated_by": record.updated_by,
            },
        )
        change.audit(
            "record.updated",
            resource_type="record",
            resource_id=record.id,
            workspace_id=schema.table.workspace_id,
        )
    return await change.commit(record_out(schema, record))


@router.patch(
    "/{record_id}", response_model=RecordOut, responses={**SCOPED, **ATTACHING, **CONFLICT}
)
async def update_record(
    record_id: str, body: RecordWrite, change: Write, request: Request, if_match: IfMatch = None
) -> Response:
    """Merge the given fields into the record (empty values clear a field).

    A write that changes nothing keeps the version. Raises ``Conflict`` when ``If-Match``
    names another version than the record's.
    """
    return await _write_one(record_id, body, change, request, if_match, merge=True)


@router.put("/{record_id}", response_model=RecordOut, responses={**SCOPED, **ATTACHING, **CONFLICT})
async def replace_record(
    record_id: str, body: RecordWrite, change: Write, request: Request, if_match: IfMatch = None
) -> Response:
    """Replace all of the record's fields: fields not given are cleared."""
    return await _write_one(record_id, body, change, request, if_match, merge=False)


@router.delete("/{record_id}", status_code=204, responses={**SCOPED, **CONFLICT})
async def delete_record(record_id: str, change: Write, if_match: IfMatch = None) -> Response:
    """Delete a record. Raises ``Conflict`` when ``If-Match`` names another version."""
    expected = expected_version(if_match)
    db = change.db
    schema, record = await _require_record(
        db, change.caller.id, record_id, "record:write", lock=True, lock_table=True
    )
    _check_version(schema, record, expected)
    await db.delete(record)
    await _removed_count(db, schema.table.id, 1)
    record_event(change, "deleted", schema, record, {"record_id": record.id})
    await _unlink(change, schema, [record.id])
    change.audit(
        "record.deleted",
        resource_type="record",
        resource_id=record.id,
        workspace_id=schema.table.workspace_id,
    )
    return await change.commit(status_code=204)
