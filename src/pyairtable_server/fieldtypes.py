"""Field types (contract §5): their options, the values clients write, and type changes.

Records keep their values in a JSON object keyed by field id. This module defines the *stored
form* of every type, which is also the wire form, and owns every rule about it:

    normalize_options     validated options for a field of a type
    validate_value        a client's value → the stored form (optionally typecasting)
    convert_value         a stored value → the stored form of another type (a type change)
    as_text               a stored value → a human string
    coerce_filter_value   a filter condition's value → the stored form it is compared with

An empty value (``None``, ``""``, ``[]``) means "no value": it validates to ``None`` and the
caller removes the key. ``False`` is a real checkbox value.

Every refusal is a ``FieldValueError`` whose message is a short predicate meant to follow the
field's name in an answer ("must be a number", "is computed and read-only"). Errors about options
name the option ("options.precision must be …").

Nothing here does I/O: values and options go in, values and options come out.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from .ids import looks_like

FieldType = Literal[
    "text",
    "long_text",
    "number",
    "checkbox",
    "date",
    "datetime",
    "select",
    "multiselect",
    "email",
    "url",
    "phone",
    "attachment",
    "reference",
    "created_time",
    "last_modified_time",
    "autonumber",
]
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)
COMPUTED_TYPES: frozenset[FieldType] = frozenset(
    {"created_time", "last_modified_time", "autonumber"}
)
ARRAY_TYPES: frozenset[FieldType] = frozenset({"multiselect", "attachment", "reference"})
TEXT_TYPES: frozenset[FieldType] = frozenset({"text", "long_text", "email", "url", "phone"})

Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
    "greater_than",
    "less_than",
    "greater_equal",
    "less_equal",
    "in",
]
OPERATORS: tuple[Operator, ...] = get_args(Operator)

MAX_TEXT_LENGTH = 100_000
MAX_PHONE_LENGTH = 50
MIN_PHONE_DIGITS = 3
MAX_EMAIL_LENGTH = 254
MAX_CHOICES = 1000
MAX_CHOICE_NAME_LENGTH = 255
MAX_PRECISION = 8
MAX_ATTACHMENT_TEXT_LENGTH = 255
MAX_IN_VALUES = 100
#: Integers beyond this lose precision in JavaScript clients and in some JSON stores (I-JSON).
MAX_SAFE_INTEGER = 2**53 - 1
#: Colours handed to choices that come without one, by position.
CHOICE_COLORS = (
    "blue",
    "cyan",
    "teal",
    "green",
    "yellow",
    "orange",
    "red",
    "pink",
    "purple",
    "gray",
)

_DATETIME_TYPES: frozenset[FieldType] = frozenset(
    {"datetime", "created_time", "last_modified_time"}
)
_NUMBER_TYPES: frozenset[FieldType] = frozenset({"number", "autonumber"})
#: Record timestamps: kept and shown with microseconds, compared as instants, never as text.
_RECORD_TIME_TYPES: frozenset[FieldType] = frozenset({"created_time", "last_modified_time"})
_TEXT_OPERATORS = frozenset({"contains", "not_contains", "starts_with", "ends_with"})
_ATTACHMENT_KEYS = ("id", "filename", "size", "type", "url")
_TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "0", "off"})

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)*\.[^@\s.]{2,}")
_PHONE = re.compile(r"[0-9 +\-().]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Typecast also reads slashes and one-digit months and days; year first keeps it unambiguous.
_LOOSE_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
# Python's float() also reads "nan", "inf" and "1_000"; typecast takes plain decimal syntax only.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Wide enough for every finite float at every precision, so quantize never runs out of digits.
_DECIMAL_CONTEXT = Context(prec=400)


class FieldValueError(ValueError):
    """A value (or options) that a field cannot hold; str(exc) is a short reason for the client."""


# --- options -------------------------------------------------------------------------------------

_OPTION_KEYS: dict[FieldType, frozenset[str]] = {
    "select": frozenset({"choices"}),
    "multiselect": frozenset({"choices"}),
    "number": frozenset({"precision"}),
    "reference": frozenset({"referenced_table_id"}),
}


def normalize_options(type: FieldType, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated, normalised options for a field of ``type`` (a new dict; the input is untouched).

    - select, multiselect: ``{"choices": [{"name", "color"}]}``. Choices may be given as plain
      names; names are stripped and must be non-empty, single-line, at most 255 characters and
      unique (case-sensitive); a missing colour is taken from ``CHOICE_COLORS`` by position; a
      given colour must be one of them. At most 1000 choices; missing ``choices`` is ``[]``.
    - number: ``{"precision": 0..8}``, or ``{}``.
    - reference: ``{"referenced_table_id": "tbl…"}``, required.
    - every other type: no options (``{}`` or ``None``).

    Raises FieldValueError naming the bad key, for unknown keys too.
    """
    _check_type(type)
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise FieldValueError("options must be an object")
    allowed = _OPTION_KEYS.get(type, frozenset())
    for key in options:
        if key not in allowed:
            raise FieldValueError(f"options has an unknown key {key!r} for a {type} field")
    if type in ("select", "multiselect"):
        return {"choices": _normalize_choices(options.get("choices"))}
    if type == "number":
        precision = options.get("precision")
        if precision is None:
            return {}
        if not _is_int(precision) or not 0 <= precision <= MAX_PRECISION:
            raise FieldValueError(f"options.precision must be an integer from 0 to {MAX_PRECISION}")
        return {"precision": precision}
    if type == "reference":
        table_id = options.get("referenced_table_id")
        if not isinstance(table_id, str) or not looks_like(table_id, "tbl"):
            raise FieldValueError("options.referenced_table_id must be a table id (tbl…)")
        return {"referenced_table_id": table_id}
    return {}


def _normalize_choices(choices: Any) -> list[dict[str, str]]:
    if choices is None:
        return []
    if not isinstance(choices, list):
        raise FieldValueError("options.choices must be a list")
    if len(choices) > MAX_CHOICES:
        raise FieldValueError(f"options.choices must have at most {MAX_CHOICES} choices")
    normalized: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, choice in enumerate(choices):
        where = f"options.choices[{index}]"
        if isinstance(choice, str):
            choice = {"name": choice}
        if not isinstance(choice, Mapping):
            raise FieldValueError(f"{where} must be a name or an object with a name")
        for key in choice:
            if key not in ("name", "color"):
                raise FieldValueError(f"{where} has an unknown key {key!r}")
        name = _choice_name(choice.get("name"), where=f"{where}.name")
        if name in seen:
            raise FieldValueError(f"{where}.name {name!r} is a duplicate")
        seen.add(name)
        color = choice.get("color")
        if color is None:
            color = CHOICE_COLORS[index % len(CHOICE_COLORS)]
        elif color not in CHOICE_COLORS:
            raise FieldValueError(f"{where}.color must be one of {', '.join(CHOICE_COLORS)}")
        normalized.append({"name": name, "color": color})
    return normalized


def _choice_name(raw: Any, *, where: str) -> str:
    if not isinstance(raw, str):
        raise FieldValueError(f"{where} must be a string")
    name = raw.strip()
    if not name:
        raise FieldValueError(f"{where} must not be empty")
    if len(name) > MAX_CHOICE_NAME_LENGTH:
        raise FieldValueError(f"{where} must be at most {MAX_CHOICE_NAME_LENGTH} characters")
    try:
        _check_characters(name, single_line=True)
    except FieldValueError as exc:
        raise FieldValueError(f"{where} {exc}") from None
    return name


# --- values --------------------------------------------------------------------------------------


def validate_value(
    type: FieldType, options: Mapping[str, Any], value: Any, *, typecast: bool = False
) -> tuple[Any, dict[str, Any] | None]:
    """The stored form of a value a client writes, and the field's new options if they changed.

    Returns ``(None, None)`` for an empty value. Without ``typecast`` the value must already have
    the stored JSON type ("5" is not a number, 1 is not a checkbox, a choice must exist). With
    ``typecast`` the value is read forgivingly: numbers and booleans from strings, text from
    numbers and booleans, dates from date-times, new select choices are *added* (the new options
    are the second element; pass them to the next call), a single id or attachment is wrapped in
    a list, and a blank string is empty for every type but text.

    Raises FieldValueError with a reason; always for computed types.
    """
    _check_type(type)
    if type in COMPUTED_TYPES:
        raise FieldValueError("is computed and read-only")
    if _is_empty(value):
        return None, None
    if typecast and type not in ("text", "long_text") and isinstance(value, str):
        value = value.strip()
        if not value:
            return None, None
    if type == "select":
        return _select(options, value, typecast)
    if type == "multiselect":
        return _multiselect(options, value, typecast)
    if type == "number":
        return _number(options, value, typecast), None
    return _VALIDATORS[type](value, typecast), None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list) and len(value) == 0)


def _text(value: Any, typecast: bool, *, single_line: bool) -> str:
    if typecast and isinstance(value, bool | int | float):
        value = as_text("number", value)
    if not isinstance(value, str):
        raise FieldValueError("must be a string")
    text: str = _LINE_BREAK.sub(" ", value) if typecast and single_line else value
    if len(text) > MAX_TEXT_LENGTH:
        raise FieldValueError(f"must be at most {MAX_TEXT_LENGTH} characters")
    _check_characters(text, single_line=single_line)
    return text


def _single_line_text(value: Any, typecast: bool) -> str:
    return _text(value, typecast, single_line=True)


def _long_text(value: Any, typecast: bool) -> str:
    return _text(value, typecast, single_line=False)


def _check_characters(value: str, *, single_line: bool) -> None:
    """Refuse what a database cannot keep faithfully: NUL, other controls, lone surrogates.

    The same rule as the request schemas' text (``schemas.common``), phrased for fields.
    """
    for char in value:
        if char in "\n\r":
            if single_line:
                raise FieldValueError("must be a single line")
            continue
        if char == "\t":
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise FieldValueError("must not contain control characters")
        if category == "Cs":
            raise FieldValueError("must be valid unicode (no lone surrogates)")


def _email(value: Any, typecast: bool) -> str:
    if not isinstance(value, str):
        raise FieldValueError("must be an email address")
    value = value.strip()
    _check_characters(value, single_line=True)
    if len(value) > MAX_EMAIL_LENGTH or _EMAIL.fullmatch(value) is None:
        raise FieldValueError("must be an email address")
    local, _, domain = value.rpartition("@")
    # Domains are case-insensitive; local parts may not be, so only the domain is folded.
    return f"{local}@{domain.lower()}"


def _url(value: Any, typecast: bool) -> str:
    if not isinstance(value, str):
        raise FieldValueError("must be a URL")
    url = value.strip()
    if len(url) > MAX_TEXT_LENGTH:
        raise FieldValueError(f"must be at most {MAX_TEXT_LENGTH} characters")
    _check_characters(url, single_line=True)
    reason = "must be an absolute http or https URL with a host"
    if any(char.isspace() for char in url):
        raise FieldValueError(reason)
    try:
        parts = urlsplit(url)
        _ = parts.port  # reading the port is what validates it ("http://a:99999" raises)
    except ValueError:
        raise FieldValueError(reason) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FieldValueError(reason)
    return url


def _phone(value: Any, typecast: bool) -> str:
    if typecast and _is_int(value):
        value = str(value)
    if not isinstance(value, str):
        raise FieldValueError("must be a phone number")
    phone = value.strip()
    if len(phone) > MAX_PHONE_LENGTH:
        raise FieldValueError(f"must be at most {MAX_PHONE_LENGTH} characters")
    if _PHONE.fullmatch(phone) is None:
        raise FieldValueError("must be a phone number (digits, spaces and + - ( ) .)")
    if sum(char.isdigit() for char in phone) < MIN_PHONE_DIGITS:
        raise FieldValueError(f"must have at least {MIN_PHONE_DIGITS} digits")
    return phone


def _number(options: Mapping[str, Any], value: Any, typecast: bool) -> int | float:
    if typecast and isinstance(value, bool):
        value = int(value)
    elif typecast and isinstance(value, str):
        value = _parse_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldValueError("must be a number")
    number = _check_number(value)
    precision = options.get("precision")
    if precision is None or isinstance(number, int):
        return number
    return _round(number, precision)


def _parse_number(text: str) -> int | float:
    """A number from plain decimal syntax; raises FieldValueError otherwise."""
    text = text.strip()
    if _NUMBER.fullmatch(text) is None:
        raise FieldValueError("must be a number")
    try:
        return int(text) if _INTEGER.fullmatch(text) else float(text)
    except ValueError:
        # int() refuses strings longer than sys.get_int_max_str_digits().
        raise FieldValueError("is out of range") from None


def _check_number(value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldValueError("must be a finite number")
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise FieldValueError(f"must be an integer within ±{MAX_SAFE_INTEGER} (or a decimal)")
    # -0 is 0 to every reader; storing it would make equal values compare unequal as JSON.
    return value if value != 0 else type(value)(0)


def _round(value: float, precision: int) -> int | float:
    """Round half away from zero, as people do (``round`` rounds half to even, on binary floats)."""
    step = Decimal(1).scaleb(-precision)
    rounded = Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)
    if precision == 0 and abs(rounded) <= MAX_SAFE_INTEGER:
        return int(rounded)
    return float(rounded) + 0.0  # + 0.0 turns -0.0 into 0.0


def _checkbox(value: Any, typecast: bool) -> bool:
    if isinstance(value, bool):
        return value
    if typecast and isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    # NaN is neither zero nor not zero in any useful sense.
    if typecast and isinstance(value, int | float) and not _is_nan(value):
        return value != 0
    raise FieldValueError("must be true or false")


def _date(value: Any, typecast: bool) -> str:
    if not isinstance(value, str):
        raise FieldValueError("must be a date (YYYY-MM-DD)")
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise FieldValueError("must be a real date") from None
    if not typecast:
        raise FieldValueError("must be a date (YYYY-MM-DD)")
    loose = _LOOSE_DATE.fullmatch(value)
    if loose:
        year, _, month, day = loose.groups()
        try:
            return date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            raise FieldValueError("must be a real date") from None
    try:
        return _parse_datetime(value, naive_is_utc=True).date().isoformat()
    except FieldValueError:
        raise FieldValueError("must be a date (YYYY-MM-DD) or a date-time") from None


def _datetime(value: Any, typecast: bool) -> str:
    if not isinstance(value, str):
        raise FieldValueError("must be a date-time string")
    if typecast:
        loose = _LOOSE_DATE.fullmatch(value)
        if loose:
            # A date alone is the start of that day in UTC.
            return _format_datetime(datetime.fromisoformat(_date(value, typecast)))
    return _format_datetime(_parse_datetime(value, naive_is_utc=typecast))


def _parse_datetime(value: str, *, naive_is_utc: bool) -> datetime:
    """An aware datetime from ISO 8601; raises FieldValueError for naive input unless told."""
    # fromisoformat reads some non-ASCII digits; the stored form is ASCII, so the input must be.
    if not value.isascii() or len(value) > 64:
        raise FieldValueError("must be an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldValueError("must be an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise FieldValueError("must include a time zone offset or Z")
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FieldValueError("is out of range") from None


def _format_datetime(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffZ`` in UTC; naive values are taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat pads years below 1000, which strftime("%Y") does not on every platform.
    return value.isoformat(timespec="milliseconds") + "Z"


def _choices(options: Mapping[str, Any]) -> list[dict[str, str]]:
    # Copies, so options handed back never share dicts with the caller's.
    return [dict(choice) for choice in options.get("choices") or []]


def _with_choice(options: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The options with one more choice, coloured by its position."""
    choices = _choices(options)
    if len(choices) >= MAX_CHOICES:
        raise FieldValueError(f"would have more than {MAX_CHOICES} choices")
    name = _choice_name(name, where="the new choice")
    color = CHOICE_COLORS[len(choices) % len(CHOICE_COLORS)]
    return {**options, "choices": [*choices, {"name": name, "color": color}]}


def _pick_choices(
    options: Mapping[str, Any], names: list[Any], typecast: bool
) -> tuple[list[str], dict[str, Any] | None]:
    """The choice names, deduplicated in order, and new options if typecast added choices."""
    known = {choice["name"] for choice in _choices(options)}
    new_options: dict[str, Any] | None = None
    picked: list[str] = []
    for name in names:
        if typecast and isinstance(name, bool | int | float):
            name = as_text("number", name)
        if not isinstance(name, str):
            raise FieldValueError("must name choices with strings")
        if typecast:
            name = name.strip()
            if not name:
                continue
        if name not in known:
            if not typecast:
                raise FieldValueError(f"{name!r} is not a choice")
            new_options = _with_choice(options if new_options is None else new_options, name)
            known.add(name)
        if name not in picked:
            picked.append(name)
    return picked, new_options


def _select(
    options: Mapping[str, Any], value: Any, typecast: bool
) -> tuple[str | None, dict[str, Any] | None]:
    if not typecast and not isinstance(value, str):
        raise FieldValueError("must be a choice name")
    picked, new_options = _pick_choices(options, [value], typecast)
    return (picked[0] if picked else None), new_options


def _multiselect(
    options: Mapping[str, Any], value: Any, typecast: bool
) -> tuple[list[str] | None, dict[str, Any] | None]:
    if typecast and isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise FieldValueError("must be a list of choice names")
    picked, new_options = _pick_choices(options, value, typecast)
    return (picked or None), new_options


def _attachment(value: Any, typecast: bool) -> list[dict[str, Any]]:
    if typecast and isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise FieldValueError("must be a list of attachments")
    attachments: dict[str, dict[str, Any]] = {}
    for item in value:
        attachment = _one_attachment(item)
        attachments.setdefault(attachment["id"], attachment)
    return list(attachments.values())


def _one_attachment(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise FieldValueError("must be a list of attachment objects")
    for key in item:
        if key not in _ATTACHMENT_KEYS:
            raise FieldValueError(f"has an attachment with an unknown key {key!r}")
    file_id = item.get("id")
    if not isinstance(file_id, str) or not looks_like(file_id, "fil"):
        raise FieldValueError("has an attachment without a file id (fil…)")
    attachment: dict[str, Any] = {"id": file_id}
    for key in ("filename", "type"):
        if key in item:
            attachment[key] = _attachment_text(item[key], key, MAX_ATTACHMENT_TEXT_LENGTH)
    if "size" in item:
        size = item["size"]
        if not _is_int(size) or size < 0:
            raise FieldValueError("has an attachment whose size is not a whole number ≥ 0")
        attachment["size"] = size
    if "url" in item:
        attachment["url"] = _attachment_text(item["url"], "url", MAX_TEXT_LENGTH)
    # The stored form keeps one key order, so equal attachments are equal JSON.
    return {key: attachment[key] for key in _ATTACHMENT_KEYS if key in attachment}


def _attachment_text(value: Any, key: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise FieldValueError(f"has an attachment whose {key} is not a string of ≤ {limit} chars")
    try:
        _check_characters(value, single_line=True)
    except FieldValueError as exc:
        raise FieldValueError(f"has an attachment whose {key} {exc}") from None
    return value


def _reference(value: Any, typecast: bool) -> list[str]:
    if typecast and isinstance(value, str):
        # Record ids never hold commas, so "recA, recB" (as_text of a reference) reads back.
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise FieldValueError("must be a list of record ids")
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not looks_like(item, "rec"):
            raise FieldValueError("must be a list of record ids (rec…)")
        if item not in ids:
            ids.append(item)
    return ids


_VALIDATORS: dict[FieldType, Callable[[Any, bool], Any]] = {
    "text": _single_line_text,
    "long_text": _long_text,
    "email": _email,
    "url": _url,
    "phone": _phone,
    "checkbox": _checkbox,
    "date": _date,
    "datetime": _datetime,
    "attachment": _attachment,
    "reference": _reference,
}


# --- type changes --------------------------------------------------------------------------------


def convert_value(
    from_type: FieldType, to_type: FieldType, to_options: Mapping[str, Any], value: Any
) -> tuple[Any, dict[str, Any] | None]:
    """A value stored under ``from_type`` in the stored form of ``to_type``, and new options.

    The same type is revalidated under the new options (no typecast). Otherwise the value is
    rendered with ``as_text`` and typecast into the new type, except that a one-element
    multiselect becomes a select, a select becomes a one-element multiselect, a number becomes
    a checkbox by being non-zero and a checkbox becomes the number 1 or 0. Into a computed type
    the answer is ``(None, None)``: computed values are derived, never stored. As with
    ``validate_value``, new options (added choices) must be passed to the next call.

    Raises FieldValueError when the value cannot convert ("abc" to a number, two choices to a
    select).
    """
    _check_type(from_type)
    _check_type(to_type)
    if to_type in COMPUTED_TYPES or _is_empty(value):
        return None, None
    try:
        if from_type == to_type:
            return validate_value(to_type, to_options, value)
        if from_type == "multiselect" and to_type == "select":
            if len(value) > 1:
                raise FieldValueError("has more than one choice")
            return validate_value(to_type, to_options, value[0], typecast=True)
        if from_type == "select" and to_type == "multiselect":
            return validate_value(to_type, to_options, [value], typecast=True)
        if from_type in _NUMBER_TYPES and to_type == "checkbox":
            return value != 0, None
        if from_type == "checkbox" and to_type == "number":
            return validate_value(to_type, to_options, int(value))
        return validate_value(to_type, to_options, as_text(from_type, value), typecast=True)
    except FieldValueError as exc:
        raise FieldValueError(f"cannot be converted to {to_type}: {exc}") from None


def as_text(type: FieldType, value: Any) -> str:
    """A human rendering of a stored value; empty values are ``""``.

    Numbers lose a trailing ``.0``, booleans are ``"true"``/``"false"``, lists are joined with
    ``", "`` (attachments by filename, or by id when they have none). Never raises.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value + 0.0)  # + 0.0 so -0.0 reads "0"
        return text.removesuffix(".0")
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, Mapping):
        return str(value.get("filename") or value.get("id") or "")
    if isinstance(value, list):
        return ", ".join(as_text(type, item) for item in value)
    return str(value)


# --- filters -------------------------------------------------------------------------------------


def coerce_filter_value(type: FieldType, operator: str, value: Any) -> Any:
    """A filter condition's value in the stored form of the field, so like compares with like.

    - ``is_empty``/``is_not_empty``: the value is ignored; returns None.
    - ``in``: a non-empty list of at most 100 values, each coerced as for ``equals``; returns a
      list.
    - ``contains``/``not_contains``/``starts_with``/``ends_with``: a string (numbers become text)
      on text, select, date and date-time types (not on created_time/last_modified_time,
      whose values are instants, not text).
    - ``equals``/``not_equals`` and comparisons: numbers on number types (numeric strings are
      read); dates and date-times through typecast (a date-time compared with a date field is its
      UTC date; a date compared with a date-time field is midnight UTC; created_time and
      last_modified_time keep sub-millisecond digits, so a record's own time equals itself);
      strings on text types and select (numbers become text; a select name need not be a
      choice, it matches nothing).
    - checkbox: ``equals``/``not_equals`` with a boolean (typecast rules: "true", 1, …).
    - array types (multiselect, reference, attachment): ``equals``/``not_equals``/``contains``/
      ``not_contains`` take one element (a choice name, record id or file id) as a string, and
      mean "has" or "lacks" it; ``starts_with``, ``ends_with`` and comparisons are refused.

    Raises FieldValueError naming why.
    """
    _check_type(type)
    if operator not in OPERATORS:
        raise FieldValueError(f"has an unknown filter operator {operator!r}")
    if operator in ("is_empty", "is_not_empty"):
        return None
    if operator == "in":
        if not isinstance(value, list) or not value:
            raise FieldValueError("needs a non-empty list for 'in'")
        if len(value) > MAX_IN_VALUES:
            raise FieldValueError(f"needs at most {MAX_IN_VALUES} values for 'in'")
        return [coerce_filter_value(type, "equals", item) for item in value]
    if value is None:
        raise FieldValueError(f"needs a value for {operator!r} (use is_empty for no value)")
    if type == "checkbox":
        if operator not in ("equals", "not_equals"):
            raise FieldValueError(f"cannot be filtered with {operator!r} (it is a checkbox)")
        return _required(validate_value(type, {}, value, typecast=True)[0], operator)
    if type in ARRAY_TYPES:
        return _array_filter(operator, value)
    if operator in _TEXT_OPERATORS:
        if type in _NUMBER_TYPES:
            raise FieldValueError(f"cannot be filtered with {operator!r} (it is a number)")
        if type in _RECORD_TIME_TYPES:
            raise FieldValueError(
                f"cannot be filtered with {operator!r} (it is a point in time; compare it)"
            )
        return _filter_text(value)
    if type in _NUMBER_TYPES:
        if isinstance(value, str):
            value = _parse_number(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldValueError(f"needs a number for {operator!r}")
        return _check_number(value)
    if type == "date" or type in _DATETIME_TYPES:
        stored_as: FieldType = "date" if type == "date" else "datetime"
        coerced = _required(validate_value(stored_as, {}, value, typecast=True)[0], operator)
        return _exact_instant(value, coerced) if type in _RECORD_TIME_TYPES else coerced
    text = _filter_text(value)
    if type == "email" and "@" in text:
        local, _, domain = text.rpartition("@")
        text = f"{local}@{domain.lower()}"
    return text


def _exact_instant(value: Any, coerced: str) -> str:
    """``coerced`` (milliseconds) with ``value``'s microseconds, when it has any.

    Record timestamps are stored and shown with microseconds; cutting a filter value to
    milliseconds would make ``less_equal <a record's created_time>`` miss that very record.
    """
    text = value.strip() if isinstance(value, str) else None
    if text is None or _LOOSE_DATE.fullmatch(text):
        return coerced
    parsed = _parse_datetime(text, naive_is_utc=True).replace(tzinfo=None)
    if parsed.microsecond % 1000 == 0:
        return coerced
    return parsed.isoformat(timespec="microseconds") + "Z"


def _array_filter(operator: str, value: Any) -> str:
    # A list holds or lacks an element; where in the list it sits means nothing to a filter.
    if operator in ("equals", "not_equals", "contains", "not_contains"):
        return _filter_text(value)
    raise FieldValueError(f"cannot be filtered with {operator!r} (it is a list)")


def _filter_text(value: Any) -> str:
    if isinstance(value, bool | int | float):
        value = as_text("number", value)
    if not isinstance(value, str):
        raise FieldValueError("needs a string to filter by")
    if len(value) > MAX_TEXT_LENGTH:
        raise FieldValueError(f"needs a filter value of at most {MAX_TEXT_LENGTH} characters")
    _check_characters(value, single_line=False)
    return value


def _required(value: Any, operator: str) -> Any:
    if value is None:
        raise FieldValueError(f"needs a value for {operator!r} (use is_empty for no value)")
    return value


# --- shared --------------------------------------------------------------------------------------


def _check_type(type: str) -> None:
    # Types arrive from requests and stored rows; an unknown one is a clear error, not a KeyError.
    if type not in FIELD_TYPES:
        raise FieldValueError(f"has an unknown field type {type!r}")


def _is_nan(value: int | float) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
