"""Record filters and sorts, compiled to SQL that runs in the database (contract §5, §6).

Values live in the ``records.fields`` JSON column keyed by field id; SQLAlchemy's generic JSON
accessors (``as_string``, ``as_float``, ``as_boolean``) render as ``JSON_EXTRACT`` on SQLite and
``->>`` with casts on PostgreSQL, so one expression tree serves both. Where the two differ
(array membership, text collation) the dialect is asked for explicitly.

Semantics, chosen to match what a spreadsheet user expects and identical on both databases:
text comparisons ignore case (but a select's choice names compare exactly); negative operators
(``not_equals``, ``not_contains``) match empty cells; comparisons never match empty cells; array
fields (multiselect, links, attachments) treat ``equals``/``contains`` as "has this element" and
``in`` as "has any of these". Sorting puts empty cells first ascending and last descending,
orders text by lower-cased code points (``COLLATE "C"`` on PostgreSQL, binary on SQLite) and
always ends with the record's creation order (reversed when the last sort is descending, so that
descending is the exact reverse of ascending), so it is total and stable, which keyset
pagination needs. Numbers, selects, dates and date-times are compared through their field's
expression index (``indexes.py``).

Cost is bounded before any SQL is built: a query's filters (its view's included) hold at most
``MAX_CONDITIONS`` conditions and ``MAX_FILTER_VALUES`` values in all (a condition counts one, an
``in`` each of its values), nested at most ``MAX_FILTER_DEPTH`` levels; past that the query is
refused with 422 naming ``filter``. "Has any of these" on an array field is ONE SQL term whatever
the number of values (``has_any``): the values travel as one bound parameter, so the statement
and the expression tree stay small on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Text,
    and_,
    any_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from ..db.models import DataField, DataRecord
from ..errors import ValidationFailed
from ..fieldtypes import (
    ARRAY_TYPES,
    TEXT_TYPES,
    FieldType,
    FieldValueError,
    coerce_filter_value,
)
from ..schemas.views import FilterCondition, FilterGroup, SortSpec
from .indexes import INDEXED_TYPES, value_expr
from .schema import TableSchema

Dialect = Literal["sqlite", "postgresql"]
MAX_FILTER_DEPTH = 5
MAX_CONDITIONS = 200
MAX_FILTER_VALUES = 2_000

_DATE_TYPES: frozenset[FieldType] = frozenset({"date", "datetime"})
_AUTONUMBER: ColumnElement[Any] = DataRecord.autonumber.expression
_TIME_COLUMNS: dict[str, ColumnElement[Any]] = {
    "created_time": DataRecord.created_at.expression,
    "last_modified_time": DataRecord.updated_at.expression,
}
_NEGATIVE = frozenset({"not_equals", "not_contains"})
_EXACT = frozenset({"equals", "not_equals", "in"})


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term. A ``nullable`` key holds NULL for empty cells, which sort first
    ascending and last descending (an indexed field's raw value, so the index serves the sort);
    other keys are never NULL."""

    expr: ColumnElement[Any]
    descending: bool
    nullable: bool = False

    def order_by(self, dialect: Dialect) -> ColumnElement[Any]:
        ordered = self.expr.desc() if self.descending else self.expr.asc()
        if self.nullable and dialect == "postgresql":  # SQLite already orders NULLs this way
            return ordered.nulls_last() if self.descending else ordered.nulls_first()
        return ordered


class Compiler:
    """Turns filter groups and sorts over one table into SQLAlchemy expressions."""

    def __init__(self, schema: TableSchema, dialect: Dialect) -> None:
        self.schema = schema
        self.dialect = dialect
        self._conditions = 0
        self._values = 0

    # -- value expressions -------------------------------------------------------------------

    def _json(self, field: DataField) -> Any:
        return DataRecord.fields[field.id]

    def _text(self, field: DataField) -> ColumnElement[Any]:
        return self._json(field).as_string()  # type: ignore[no-any-return]

    def _ordered(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # Code-point order on both databases, whatever PostgreSQL's default collation is.
        return expr.collate("C") if self.dialect == "postgresql" else expr

    def _folded(self, field: DataField) -> ColumnElement[Any]:
        return self._ordered(func.lower(self._text(field)))

    def _indexed(self, field: DataField) -> ColumnElement[Any]:
        """The value of a field of an ``INDEXED_TYPES`` type, exactly as its index holds it."""
        return value_expr(self.dialect, field.id, self.schema.type_of(field))

    def _number(self, field: DataField) -> ColumnElement[Any]:
        if field.type == "autonumber":
            return _AUTONUMBER
        return self._indexed(field)

    def _checkbox(self, field: DataField) -> ColumnElement[Any]:
        return func.coalesce(self._json(field).as_boolean(), false())

    def _present(self, field: DataField) -> ColumnElement[bool]:
        return self._text(field).is_not(None)

    def has_element(self, field: DataField, element: str) -> ColumnElement[bool]:
        """Records whose array cell (multiselect, links, attachments) holds ``element``."""
        return self.has_any(field, [element])

    def has_any(self, field: DataField, elements: Iterable[str]) -> ColumnElement[bool]:
        """Records whose array cell holds any of ``elements``: one SQL term with the elements in
        one bound parameter, however many there are."""
        wanted = list(dict.fromkeys(elements))
        if not wanted:
            return false()
        is_attachment = field.type == "attachment"
        if self.dialect == "postgresql":
            members: list[Any] = [{"id": e} if is_attachment else e for e in wanted]
            fields = type_coerce(DataRecord.fields, JSONB)
            if len(members) == 1:  # ``@>`` is answered by the GIN index on records.fields.
                return fields.contains({field.id: members})
            # ``@> ANY(jsonb[])``: the GIN index answers it too (one bitmap scan per element).
            probes = [json.dumps({field.id: [member]}) for member in members]
            return fields.op("@>", return_type=Boolean)(
                any_(cast(literal(probes, ARRAY(Text)), ARRAY(JSONB)))
            )
        items = func.json_each(DataRecord.fields, f'$."{field.id}"').table_valued("value")
        value = func.json_extract(items.c.value, "$.id") if is_attachment else items.c.value
        if len(wanted) == 1:
            return exists(select(literal(1)).select_from(items).where(value == wanted[0]))
        listed = func.json_each(literal(json.dumps(wanted))).table_valued("value")
        return exists(
            select(literal(1)).select_from(items).where(value.in_(select(listed.c.value)))
        )

    # -- filters -----------------------------------------------------------------------------

    def where(self, group: FilterGroup, *, depth: int = 1) -> ColumnElement[bool]:
        """The SQL condition for a filter group. Raises ``ValidationFailed`` naming the problem."""
        if depth > MAX_FILTER_DEPTH:
            raise ValidationFailed.field("filter", f"nested deeper than {MAX_FILTER_DEPTH} levels")
        parts = [
            self.where(item, depth=depth + 1)
            if isinstance(item, FilterGroup)
            else self._condition(item)
            for item in group.conditions
        ]
        if not parts:
            return true()
        return and_(*parts) if group.conjunction == "and" else or_(*parts)

    def _condition(self, condition: FilterCondition) -> ColumnElement[bool]:
        self._conditions += 1
        if self._conditions > MAX_CONDITIONS:
            raise ValidationFailed.field("filter", f"more than {MAX_CONDITIONS} conditions")
        self._values += max(1, len(condition.value)) if isinstance(condition.value, list) else 1
        if self._values > MAX_FILTER_VALUES:
            raise ValidationFailed.field(
                "filter", f"more than {MAX_FILTER_VALUES} values in all conditions together"
            )
        field = self.schema.resolve(condition.field, where="filter")
        kind = self.schema.type_of(field)
        operator = condition.operator
        try:
            value = coerce_filter_value(kind, operator, condition.value)
        except FieldValueError as exc:
            raise ValidationFailed.field(
                "filter", f"{field.name} {operator}: {exc}", f"Bad filter on {field.name!r}: {exc}"
            ) from exc
        if operator in ("is_empty", "is_not_empty"):
            empty = self._is_empty(field, kind)
            return empty if operator == "is_empty" else not_(empty)
        if kind in ARRAY_TYPES:
            return self._array_condition(field, operator, value)
        if kind == "checkbox":
            matches = self._checkbox(field) == bool(value)
            return matches if operator == "equals" else not_(matches)
        expr, values = self._comparable(field, kind, operator, value)
        return self._compare(expr, operator, values)

    def _is_empty(self, field: DataField, kind: FieldType) -> ColumnElement[bool]:
        if kind == "checkbox":
            return self._checkbox(field) == false()
        if kind in _TIME_COLUMNS or kind == "autonumber":
            return false()  # computed values always exist
        if kind in INDEXED_TYPES:
            return self._indexed(field).is_(None)
        return self._text(field).is_(None)

    def _array_condition(self, field: DataField, operator: str, value: Any) -> ColumnElement[bool]:
        if operator == "in":
            return self.has_any(field, (str(item) for item in value))
        if operator not in ("equals", "not_equals", "contains", "not_contains"):
            raise ValidationFailed.field("filter", f"{field.name}: {operator} needs a single value")
        has = self.has_element(field, str(value))
        return not_(has) if operator in _NEGATIVE else has

    def _comparable(
        self, field: DataField, kind: FieldType, operator: str, value: Any
    ) -> tuple[ColumnElement[Any], Any]:
        """The expression to compare and the value(s) in the same domain."""
        if kind in _TIME_COLUMNS:
            return _TIME_COLUMNS[kind], _as_datetime(value)
        if kind in ("number", "autonumber"):
            return self._number(field), value
        if kind in _DATE_TYPES:
            return self._indexed(field), value
        if kind == "select" and operator in _EXACT:
            # Choice names are exact; comparing them as-is lets the field's index answer.
            return self._indexed(field), value
        return self._folded(field), _lower(value)

    def _compare(self, expr: ColumnElement[Any], operator: str, value: Any) -> ColumnElement[bool]:
        text_ops: dict[str, Any] = {
            "contains": lambda: expr.contains(value, autoescape=True),
            "not_contains": lambda: expr.contains(value, autoescape=True),
            "starts_with": lambda: expr.startswith(value, autoescape=True),
            "ends_with": lambda: expr.endswith(value, autoescape=True),
        }
        comparisons: dict[str, Any] = {
            "equals": lambda: expr == value,
            "not_equals": lambda: expr == value,
            "greater_than": lambda: expr > value,
            "less_than": lambda: expr < value,
            "greater_equal": lambda: expr >= value,
            "less_equal": lambda: expr <= value,
            "in": lambda: expr.in_(list(value)),
        }
        build = text_ops.get(operator) or comparisons.get(operator)
        if build is None:
            raise ValidationFailed.field("filter", f"unsupported operator {operator!r}")
        matched: ColumnElement[bool] = build()
        if operator in _NEGATIVE:
            return or_(expr.is_(None), not_(matched))
        return matched

    # -- sorting -----------------------------------------------------------------------------

    def order(self, sorts: Sequence[SortSpec]) -> list[SortKey]:
        """Sort keys for ``sorts`` (first wins), then creation order; all keys are non-null."""
        keys: list[SortKey] = []
        seen: set[str] = set()
        for spec in sorts:
            field = self.schema.resolve(spec.field, where="sort")
            if field.id in seen:
                continue
            seen.add(field.id)
            descending = spec.direction == "desc"
            if self.schema.type_of(field) in (INDEXED_TYPES - {"select"}):
                keys.append(SortKey(self._indexed(field), descending, nullable=True))
            else:
                keys.extend(SortKey(expr, descending) for expr in self._sort_exprs(field))
        # Ties fall back to creation order in the direction of the last sort, so a descending
        # sort is the exact reverse of the ascending one, and a sort on an indexed field is
        # served by its index (table_id, value, autonumber) without any sorting step.
        last_descending = keys[-1].descending if keys else False
        keys.append(SortKey(_AUTONUMBER, descending=last_descending))
        return keys

    def _sort_exprs(self, field: DataField) -> list[ColumnElement[Any]]:
        kind = self.schema.type_of(field)
        if kind in _TIME_COLUMNS:
            return [_TIME_COLUMNS[kind]]
        if kind == "autonumber":
            return [_AUTONUMBER]
        if kind == "checkbox":
            return [self._checkbox(field)]
        if kind in ARRAY_TYPES:
            path = (field.id, 0, "filename") if kind == "attachment" else (field.id, 0)
            first = DataRecord.fields[path].as_string()
            return [self._ordered(func.coalesce(func.lower(first), ""))]
        assert kind in TEXT_TYPES or kind == "select"
        return [self._ordered(func.coalesce(func.lower(self._text(field)), ""))]


def seek(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort-key values are ``values`` (keyset pagination)."""
    # A checkbox key's value is a bool, and SQLAlchemy refuses ``expr > True``: bind it instead.
    bound = [
        literal(v, key.expr.type) if isinstance(v, bool) else v
        for key, v in zip(keys, values, strict=True)
    ]
    clauses = []
    for index, key in enumerate(keys):
        parts = [_same(keys[j], bound[j]) for j in range(index)]
        parts.append(_after(key, bound[index]))
        clauses.append(and_(*parts))
    return or_(*clauses)


def _same(key: SortKey, value: Any) -> ColumnElement[bool]:
    return key.expr.is_(None) if value is None else key.expr == value


def _after(key: SortKey, value: Any) -> ColumnElement[bool]:
    """Key values strictly after ``value`` in the key's order (NULLs first ascending)."""
    if value is None:
        return false() if key.descending else key.expr.is_not(None)
    beyond: ColumnElement[bool] = key.expr < value if key.descending else key.expr > value
    if key.descending and key.nullable:
        return or_(beyond, key.expr.is_(None))
    return beyond


def _lower(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [item.lower() if isinstance(item, str) else item for item in value]
    return value


def _as_datetime(value: Any) -> Any:
    if isinstance(value, list):
        return [_as_datetime(item) for item in value]
    if isinstance(value, str):
        text = value if "T" in value else f"{value}T00:00:00+00:00"
        return datetime.fromisoformat(text)
    return value
