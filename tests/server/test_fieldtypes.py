"""Field types (contract §5): options, client values, typecast, type changes, filter values.

Pure functions, so these are plain synchronous tests without a backend.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pyairtable_server.fieldtypes import (
    ARRAY_TYPES,
    CHOICE_COLORS,
    COMPUTED_TYPES,
    FIELD_TYPES,
    MAX_CHOICES,
    MAX_SAFE_INTEGER,
    MAX_TEXT_LENGTH,
    OPERATORS,
    TEXT_TYPES,
    FieldType,
    FieldValueError,
    as_text,
    coerce_filter_value,
    convert_value,
    normalize_options,
    validate_value,
)

REC_A = "recAAAAAAAAAAAAAAAA"
REC_B = "recBBBBBBBBBBBBBBBB"
FIL_A = "filAAAAAAAAAAAAAAAA"
FIL_B = "filBBBBBBBBBBBBBBBB"
TBL_A = "tblAAAAAAAAAAAAAAAA"

CHOICES = normalize_options("select", {"choices": ["Red", "Green", "Blue"]})
NON_COMPUTED: tuple[FieldType, ...] = tuple(t for t in FIELD_TYPES if t not in COMPUTED_TYPES)


def options_for(field_type: FieldType) -> dict[str, Any]:
    """Usable options for a field of ``field_type``."""
    if field_type in ("select", "multiselect"):
        return CHOICES
    if field_type == "reference":
        return {"referenced_table_id": TBL_A}
    return {}


def stored(
    field_type: FieldType,
    value: Any,
    *,
    typecast: bool = False,
    options: dict[str, Any] | None = None,
) -> Any:
    """The stored value, asserting that the options did not change."""
    result, new_options = validate_value(
        field_type,
        options_for(field_type) if options is None else options,
        value,
        typecast=typecast,
    )
    assert new_options is None
    return result


# --- the sets of types ---------------------------------------------------------------------------


def test_type_sets_partition_the_field_types_as_documented() -> None:
    assert len(FIELD_TYPES) == 16
    assert set(COMPUTED_TYPES) == {"created_time", "last_modified_time", "autonumber"}
    assert set(ARRAY_TYPES) == {"multiselect", "attachment", "reference"}
    assert set(TEXT_TYPES) == {"text", "long_text", "email", "url", "phone"}
    assert set(FIELD_TYPES) >= COMPUTED_TYPES | ARRAY_TYPES | TEXT_TYPES


def test_operators_are_the_thirteen_of_the_contract() -> None:
    assert set(OPERATORS) == {
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
    }
    assert len(OPERATORS) == 13


# --- options -------------------------------------------------------------------------------------


def test_select_options_accept_plain_names_and_colour_them_by_position() -> None:
    options = normalize_options("multiselect", {"choices": [" Red ", {"name": "Green"}]})
    assert options == {
        "choices": [
            {"name": "Red", "color": CHOICE_COLORS[0]},
            {"name": "Green", "color": CHOICE_COLORS[1]},
        ]
    }


def test_select_options_keep_a_given_colour() -> None:
    options = normalize_options("select", {"choices": [{"name": "A", "color": "red"}]})
    assert options == {"choices": [{"name": "A", "color": "red"}]}


def test_choice_colours_cycle_through_the_palette() -> None:
    names = [f"c{i}" for i in range(len(CHOICE_COLORS) + 1)]
    choices = normalize_options("select", {"choices": names})["choices"]
    assert choices[-1]["color"] == CHOICE_COLORS[0]


@pytest.mark.parametrize("options", [None, {}, {"choices": None}, {"choices": []}])
def test_select_options_without_choices_have_an_empty_list(options: dict[str, Any] | None) -> None:
    assert normalize_options("select", options) == {"choices": []}


def test_number_options_take_an_optional_precision() -> None:
    assert normalize_options("number", None) == {}
    assert normalize_options("number", {"precision": 0}) == {"precision": 0}
    assert normalize_options("number", {"precision": 8}) == {"precision": 8}


def test_reference_options_keep_the_referenced_table() -> None:
    options = normalize_options("reference", {"referenced_table_id": TBL_A})
    assert options == {"referenced_table_id": TBL_A}


@pytest.mark.parametrize(
    "field_type", [t for t in FIELD_TYPES if t not in ("select", "multiselect", "reference")]
)
def test_other_types_have_no_options_by_default(field_type: FieldType) -> None:
    assert normalize_options(field_type, None) == {}
    assert normalize_options(field_type, {}) == {}


def test_normalize_options_does_not_share_dicts_with_its_input() -> None:
    given = {"choices": [{"name": "A"}]}
    normalize_options("select", given)
    assert given == {"choices": [{"name": "A"}]}


@pytest.mark.parametrize(
    ("field_type", "options", "reason"),
    [
        ("text", {"precision": 2}, "unknown key 'precision'"),
        ("long_text", {"x": 1}, "unknown key 'x'"),
        ("checkbox", {"choices": []}, "unknown key 'choices'"),
        ("number", {"choices": []}, "unknown key 'choices'"),
        ("select", {"choices": [], "colour": "red"}, "unknown key 'colour'"),
        ("reference", {"referenced_table_id": TBL_A, "x": 1}, "unknown key 'x'"),
        ("autonumber", {"start": 1}, "unknown key 'start'"),
        ("text", [("a", 1)], "options must be an object"),
        ("number", {"precision": 9}, "options.precision"),
        ("number", {"precision": -1}, "options.precision"),
        ("number", {"precision": 2.0}, "options.precision"),
        ("number", {"precision": True}, "options.precision"),
        ("number", {"precision": "2"}, "options.precision"),
        ("reference", {}, "options.referenced_table_id"),
        ("reference", None, "options.referenced_table_id"),
        ("reference", {"referenced_table_id": "recAAAAAAAAAAAAAAAA"}, "referenced_table_id"),
        ("reference", {"referenced_table_id": "tbl"}, "referenced_table_id"),
        ("select", {"choices": "Red"}, "options.choices must be a list"),
        ("select", {"choices": ["A", "B", "A"]}, "options.choices[2].name 'A' is a duplicate"),
        ("select", {"choices": ["A", " A "]}, "is a duplicate"),
        ("select", {"choices": [""]}, "options.choices[0].name must not be empty"),
        ("select", {"choices": ["   "]}, "must not be empty"),
        ("select", {"choices": ["a\nb"]}, "options.choices[0].name must be a single line"),
        ("select", {"choices": ["a\x00b"]}, "control characters"),
        ("select", {"choices": ["x" * 256]}, "at most 255"),
        ("select", {"choices": [5]}, "options.choices[0]"),
        ("select", {"choices": [{"color": "red"}]}, "options.choices[0].name must be a string"),
        ("select", {"choices": [{"name": "A", "id": "x"}]}, "unknown key 'id'"),
        ("select", {"choices": [{"name": "A", "color": "#ff0000"}]}, ".color must be one of"),
        ("multiselect", {"choices": [f"c{i}" for i in range(1001)]}, "at most 1000"),
        ("nonsense", {}, "unknown field type"),
    ],
)
def test_normalize_options_refuses_bad_options_naming_the_key(
    field_type: Any, options: Any, reason: str
) -> None:
    with pytest.raises(FieldValueError, match=_escaped(reason)):
        normalize_options(field_type, options)


def test_choice_names_are_case_sensitive() -> None:
    choices = normalize_options("select", {"choices": ["a", "A"]})["choices"]
    assert [c["name"] for c in choices] == ["a", "A"]


def test_a_thousand_choices_are_allowed() -> None:
    names = [f"c{i}" for i in range(MAX_CHOICES)]
    assert len(normalize_options("select", {"choices": names})["choices"]) == MAX_CHOICES


# --- values: empties and computed types ----------------------------------------------------------


@pytest.mark.parametrize("field_type", NON_COMPUTED)
@pytest.mark.parametrize("empty", [None, "", []])
@pytest.mark.parametrize("typecast", [False, True])
def test_empty_values_mean_no_value_for_every_type(
    field_type: FieldType, empty: Any, typecast: bool
) -> None:
    assert validate_value(field_type, options_for(field_type), empty, typecast=typecast) == (
        None,
        None,
    )


@pytest.mark.parametrize("field_type", sorted(COMPUTED_TYPES))
@pytest.mark.parametrize("value", [None, 1, "2024-01-01T00:00:00.000Z"])
def test_computed_types_refuse_every_write(field_type: FieldType, value: Any) -> None:
    with pytest.raises(FieldValueError, match="is computed and read-only"):
        validate_value(field_type, {}, value)
    with pytest.raises(FieldValueError, match="is computed and read-only"):
        validate_value(field_type, {}, value, typecast=True)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(FieldValueError, match="unknown field type 'money'"):
        validate_value("money", {}, 1)  # type: ignore[arg-type]


# --- values: text types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        ("text", "hello"),
        ("text", "Zoë 東京 🚀"),
        ("text", "tab\tinside"),
        ("text", "  spaces are kept  "),
        ("text", "x" * MAX_TEXT_LENGTH),
        ("long_text", "line one\nline two\r\nthree"),
        ("long_text", "emoji 🎉\n\tindented"),
    ],
)
def test_text_is_stored_as_given(field_type: FieldType, value: str) -> None:
    assert stored(field_type, value) == value


@pytest.mark.parametrize(
    ("field_type", "value", "reason"),
    [
        ("text", "two\nlines", "must be a single line"),
        ("text", "carriage\rreturn", "must be a single line"),
        ("text", "nul\x00byte", "control characters"),
        ("long_text", "nul\x00byte", "control characters"),
        ("text", "bell\x07", "control characters"),
        ("long_text", "escape\x1b[0m", "control characters"),
        ("long_text", "delete\x7f", "control characters"),
        ("text", "lone \ud800 surrogate", "lone surrogates"),
        ("text", "x" * (MAX_TEXT_LENGTH + 1), "at most 100000"),
        ("long_text", "x" * (MAX_TEXT_LENGTH + 1), "at most 100000"),
        ("text", 5, "must be a string"),
        ("text", True, "must be a string"),
        ("long_text", ["a"], "must be a string"),
        ("text", {"a": 1}, "must be a string"),
    ],
)
def test_text_refuses_without_typecast(field_type: FieldType, value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value(field_type, {}, value)


@pytest.mark.parametrize(
    ("field_type", "value", "expected"),
    [
        ("text", 5, "5"),
        ("text", 2.0, "2"),
        ("text", 2.5, "2.5"),
        ("text", True, "true"),
        ("long_text", False, "false"),
        ("text", "a\nb\r\nc", "a b c"),
        ("long_text", "a\nb", "a\nb"),
        ("text", "   ", "   "),
    ],
)
def test_text_typecast_renders_numbers_and_booleans_and_joins_lines(
    field_type: FieldType, value: Any, expected: str
) -> None:
    assert stored(field_type, value, typecast=True) == expected


@pytest.mark.parametrize("value", ["nul\x00", ["a"], {"a": 1}])
def test_text_typecast_still_refuses_controls_and_containers(value: Any) -> None:
    with pytest.raises(FieldValueError):
        validate_value("text", {}, value, typecast=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada.Lovelace@Example.COM", "Ada.Lovelace@example.com"),
        ("  ada+tag@mail.example.org  ", "ada+tag@mail.example.org"),
        ("jörg@bücher.de", "jörg@bücher.de"),
    ],
)
def test_email_lowercases_only_the_domain(value: str, expected: str) -> None:
    assert stored("email", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@example.c",
        "ada@@example.com",
        "ada@exa mple.com",
        "ada lovelace@example.com",
        "ada@example..com",
        "ada@.example.com",
        "ada@exam\nple.com",
        "ada\x00@example.com",
        "a" * 250 + "@example.com",
        42,
        ["ada@example.com"],
    ],
)
def test_email_refuses_implausible_addresses(value: Any) -> None:
    with pytest.raises(FieldValueError, match=r"email address|single line|control"):
        validate_value("email", {}, value, typecast=True)


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com",
        "http://example.com/path?q=1#frag",
        "HTTPS://Example.com/Case",
        "http://localhost:8080/api",
        "http://[::1]:80/",
        "https://user:pw@example.com/",
        "https://bücher.de/",
    ],
)
def test_url_accepts_absolute_http_urls(value: str) -> None:
    assert stored("url", value) == value


def test_url_is_stripped() -> None:
    assert stored("url", "  https://example.com  ") == "https://example.com"


@pytest.mark.parametrize(
    "value",
    [
        "example.com",
        "/relative/path",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "mailto:ada@example.com",
        "http://",
        "http:///path",
        "https://exa mple.com",
        "http://example.com:99999",
        "http://[::1",
        "https://example.com/\x00",
        5,
    ],
)
def test_url_refuses_anything_but_http_with_a_host(value: Any) -> None:
    with pytest.raises(FieldValueError):
        validate_value("url", {}, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+1 (555) 123-4567", "+1 (555) 123-4567"),
        ("555.123.4567", "555.123.4567"),
        ("112", "112"),
        (" 0049 30 1234 ", "0049 30 1234"),
    ],
)
def test_phone_accepts_digits_and_punctuation(value: str, expected: str) -> None:
    assert stored("phone", value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12", "at least 3 digits"),
        ("+()-", "at least 3 digits"),
        ("555-CALL-NOW", "phone number"),
        ("555 123 4567 ext 9", "phone number"),
        ("１２３", "phone number"),
        ("1" * 51, "at most 50"),
        (5551234, "phone number"),
    ],
)
def test_phone_refuses_letters_short_and_long_numbers(value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value("phone", {}, value)


def test_phone_typecast_reads_an_integer() -> None:
    assert stored("phone", 5551234, typecast=True) == "5551234"


# --- values: numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 7, -3, 2.5, -0.125, 1e300, MAX_SAFE_INTEGER])
def test_numbers_are_stored_as_given_without_precision(value: float) -> None:
    result = stored("number", value)
    assert result == value
    assert type(result) is type(value)


def test_negative_zero_is_stored_as_zero() -> None:
    assert str(stored("number", -0.0)) == "0.0"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "must be a number"),
        (False, "must be a number"),
        ("5", "must be a number"),
        ([5], "must be a number"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (MAX_SAFE_INTEGER + 1, "within"),
        (-(10**400), "within"),
    ],
)
def test_numbers_refuse_booleans_strings_and_non_finite_values(value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value("number", {}, value)


@pytest.mark.parametrize(
    ("precision", "value", "expected"),
    [
        (0, 2.0, 2),
        (0, 2.4, 2),
        (0, 2.5, 3),
        (0, -2.5, -3),
        (0, 7, 7),
        (2, 2.675, 2.68),
        (2, 1.005, 1.01),
        (2, 3.14159, 3.14),
        (2, 5, 5),
        (1, -0.04, 0.0),
        (8, 0.123456789, 0.12345679),
        (0, 1e300, 1e300),
    ],
)
def test_precision_rounds_half_away_from_zero(
    precision: int, value: float, expected: float
) -> None:
    result = stored("number", value, options={"precision": precision})
    assert result == expected
    assert type(result) is type(expected)


def test_precision_zero_turns_integral_floats_into_ints() -> None:
    assert type(stored("number", 4.0, options={"precision": 0})) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5),
        (" -12 ", -12),
        ("+3", 3),
        ("2.5", 2.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("-1.5E-2", -0.015),
        (True, 1),
        (False, 0),
        (4.25, 4.25),
    ],
)
def test_number_typecast_reads_plain_numeric_strings(value: Any, expected: float) -> None:
    result = stored("number", value, typecast=True)
    assert result == expected
    assert type(result) is type(expected)


def test_number_typecast_applies_precision_to_strings() -> None:
    assert stored("number", "2.345", typecast=True, options={"precision": 1}) == 2.3


@pytest.mark.parametrize(
    "value",
    ["abc", "1,234.5", "1_000", "nan", "inf", "-Infinity", "0x10", "5 apples", "1e999", "--1", "٣"],
)
def test_number_typecast_refuses_anything_but_plain_float_syntax(value: str) -> None:
    with pytest.raises(FieldValueError):
        validate_value("number", {}, value, typecast=True)


def test_number_typecast_of_a_blank_string_is_empty() -> None:
    assert validate_value("number", {}, "   ", typecast=True) == (None, None)


# --- values: checkbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_checkbox_stores_booleans_and_false_is_a_value(value: bool) -> None:
    assert stored("checkbox", value) is value


@pytest.mark.parametrize("value", [1, 0, "true", "false", 1.0])
def test_checkbox_refuses_non_booleans_without_typecast(value: Any) -> None:
    with pytest.raises(FieldValueError, match="must be true or false"):
        validate_value("checkbox", {}, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" Yes ", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("No", False),
        ("0", False),
        ("OFF", False),
        (1, True),
        (0, False),
        (-2.5, True),
        (0.0, False),
    ],
)
def test_checkbox_typecast_reads_words_and_numbers(value: Any, expected: bool) -> None:
    assert stored("checkbox", value, typecast=True) is expected


@pytest.mark.parametrize("value", ["maybe", "t", "2", float("nan"), ["true"]])
def test_checkbox_typecast_refuses_other_values(value: Any) -> None:
    with pytest.raises(FieldValueError, match="must be true or false"):
        validate_value("checkbox", {}, value, typecast=True)


# --- values: dates and date-times ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["2024-03-01", "0001-01-01", "9999-12-31", "2024-02-29"])
def test_date_stores_iso_dates(value: str) -> None:
    assert stored("date", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30",
        "2023-02-29",
        "0000-01-01",
        "2024-13-01",
        "2024/03/01",
        "20240301",
        "2024-3-1",
        "2024-03-01T10:00:00Z",
        "01/03/2024",
        "2024-03-01\n",
        20240301,
    ],
)
def test_date_refuses_anything_but_a_real_yyyy_mm_dd(value: Any) -> None:
    with pytest.raises(FieldValueError):
        validate_value("date", {}, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01", "2024-03-01"),
        ("2024/03/01", "2024-03-01"),
        ("2024/3/1", "2024-03-01"),
        (" 2024-03-01 ", "2024-03-01"),
        ("2024-03-01T10:00:00Z", "2024-03-01"),
        ("2024-03-01T23:30:00-02:00", "2024-03-02"),
        ("2024-03-01T01:00:00+02:00", "2024-02-29"),
        ("2024-03-01T10:00:00", "2024-03-01"),
    ],
)
def test_date_typecast_reads_slashes_and_takes_the_utc_date_of_a_datetime(
    value: str, expected: str
) -> None:
    assert stored("date", value, typecast=True) == expected


@pytest.mark.parametrize("value", ["01/03/2024", "03-01-2024", "2024/02/30", "tomorrow", 5])
def test_date_typecast_refuses_ambiguous_or_unreal_dates(value: Any) -> None:
    with pytest.raises(FieldValueError):
        validate_value("date", {}, value, typecast=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00.000Z"),
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00.000Z"),
        ("2024-03-01T10:00:00.5Z", "2024-03-01T10:00:00.500Z"),
        ("2024-03-01T10:00:00.123456Z", "2024-03-01T10:00:00.123Z"),
        ("2024-03-01 10:00:00+00:00", "2024-03-01T10:00:00.000Z"),
        ("2024-03-01T23:30:00-02:00", "2024-03-02T01:30:00.000Z"),
        ("2024-03-01T10:00Z", "2024-03-01T10:00:00.000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_datetime_is_normalised_to_utc_with_milliseconds(value: str, expected: str) -> None:
    assert stored("datetime", value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-03-01T10:00:00", "time zone offset"),
        ("2024-03-01", "time zone offset"),
        ("2024-03-01T25:00:00Z", "ISO 8601"),
        ("2024-02-30T10:00:00Z", "ISO 8601"),
        ("yesterday", "ISO 8601"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("9999-12-31T23:00:00-02:00", "out of range"),
        ("２０２４-03-01T10:00:00Z", "ISO 8601"),
        (1709287200, "date-time string"),
    ],
)
def test_datetime_refuses_naive_invalid_and_out_of_range_values(value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value("datetime", {}, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:00:00", "2024-03-01T10:00:00.000Z"),
        ("2024-03-01", "2024-03-01T00:00:00.000Z"),
        ("2024/03/01", "2024-03-01T00:00:00.000Z"),
        ("2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00.000Z"),
    ],
)
def test_datetime_typecast_takes_naive_times_and_dates_as_utc(value: str, expected: str) -> None:
    assert stored("datetime", value, typecast=True) == expected


# --- values: select and multiselect --------------------------------------------------------------


def test_select_stores_a_known_choice() -> None:
    assert stored("select", "Green") == "Green"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Purple", "'Purple' is not a choice"),
        ("green", "'green' is not a choice"),
        (" Green", "is not a choice"),
        (["Green"], "must be a choice name"),
        (1, "must be a choice name"),
    ],
)
def test_select_refuses_unknown_names_and_other_types(value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value("select", CHOICES, value)


def test_select_typecast_matches_a_known_choice_without_changing_options() -> None:
    assert validate_value("select", CHOICES, " Green ", typecast=True) == ("Green", None)


def test_select_typecast_adds_an_unknown_choice_and_returns_the_new_options() -> None:
    value, options = validate_value("select", CHOICES, "Purple", typecast=True)
    assert value == "Purple"
    assert options == {
        "choices": [*CHOICES["choices"], {"name": "Purple", "color": CHOICE_COLORS[3]}]
    }
    assert len(CHOICES["choices"]) == 3  # the caller's options are left alone


def test_select_typecast_renders_a_number_as_a_choice() -> None:
    value, options = validate_value("select", CHOICES, 5, typecast=True)
    assert value == "5"
    assert options is not None
    assert options["choices"][-1]["name"] == "5"


@pytest.mark.parametrize("name", ["x" * 256, "two\nlines"])
def test_select_typecast_refuses_names_no_choice_could_have(name: str) -> None:
    with pytest.raises(FieldValueError, match="the new choice"):
        validate_value("select", CHOICES, name, typecast=True)


def test_select_typecast_refuses_a_choice_past_the_limit() -> None:
    full = normalize_options("select", {"choices": [f"c{i}" for i in range(MAX_CHOICES)]})
    with pytest.raises(FieldValueError, match="more than 1000 choices"):
        validate_value("select", full, "one more", typecast=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Red"], ["Red"]),
        (["Blue", "Red"], ["Blue", "Red"]),
        (["Red", "Blue", "Red", "Blue"], ["Red", "Blue"]),
    ],
)
def test_multiselect_dedupes_keeping_first_order(value: list[str], expected: list[str]) -> None:
    assert stored("multiselect", value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Red", "must be a list of choice names"),
        (["Red", "Purple"], "'Purple' is not a choice"),
        ([""], "'' is not a choice"),
        ([1], "must name choices with strings"),
        ([["Red"]], "must name choices with strings"),
        ({"Red": True}, "must be a list"),
    ],
)
def test_multiselect_refuses_strings_unknown_names_and_non_strings(value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value("multiselect", CHOICES, value)


def test_multiselect_typecast_splits_a_comma_string_and_adds_new_choices() -> None:
    value, options = validate_value(
        "multiselect", CHOICES, "Red, Purple,, Blue ,Red, Teal", typecast=True
    )
    assert value == ["Red", "Purple", "Blue", "Teal"]
    assert options is not None
    assert [c["name"] for c in options["choices"]] == ["Red", "Green", "Blue", "Purple", "Teal"]
    assert [c["color"] for c in options["choices"][3:]] == list(CHOICE_COLORS[3:5])


def test_multiselect_typecast_of_only_commas_is_empty() -> None:
    assert validate_value("multiselect", CHOICES, " , ,", typecast=True) == (None, None)


def test_multiselect_typecast_of_known_names_keeps_options() -> None:
    assert validate_value("multiselect", CHOICES, [" Red", 7], typecast=True)[0] == ["Red", "7"]


# --- values: attachments and references ----------------------------------------------------------


def test_attachment_keeps_known_keys_in_a_fixed_order() -> None:
    value = [
        {"url": "/files/a", "size": 10, "id": FIL_A, "type": "image/png", "filename": "a.png"},
        {"id": FIL_B},
    ]
    result = stored("attachment", value)
    assert result == [
        {"id": FIL_A, "filename": "a.png", "size": 10, "type": "image/png", "url": "/files/a"},
        {"id": FIL_B},
    ]
    assert list(result[0]) == ["id", "filename", "size", "type", "url"]


def test_attachment_dedupes_by_file_id_keeping_the_first() -> None:
    value = [{"id": FIL_A, "filename": "one"}, {"id": FIL_B}, {"id": FIL_A, "filename": "two"}]
    assert stored("attachment", value) == [{"id": FIL_A, "filename": "one"}, {"id": FIL_B}]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"id": FIL_A}, "must be a list of attachments"),
        ([FIL_A], "attachment objects"),
        ([{}], "without a file id"),
        ([{"id": REC_A}], "without a file id"),
        ([{"id": "fil"}], "without a file id"),
        ([{"id": FIL_A, "path": "/etc/passwd"}], "unknown key 'path'"),
        ([{"id": FIL_A, "size": -1}], "size"),
        ([{"id": FIL_A, "size": True}], "size"),
        ([{"id": FIL_A, "size": 1.5}], "size"),
        ([{"id": FIL_A, "filename": None}], "filename"),
        ([{"id": FIL_A, "filename": "a\x00b"}], "filename must not contain control"),
        ([{"id": FIL_A, "type": 5}], "type"),
        ([{"id": FIL_A, "url": ["x"]}], "url"),
    ],
)
def test_attachment_refuses_bad_shapes(value: Any, reason: str) -> None:
    with pytest.raises(FieldValueError, match=reason):
        validate_value("attachment", {}, value)


def test_attachment_typecast_wraps_a_single_object() -> None:
    assert stored("attachment", {"id": FIL_A, "size": 0}, typecast=True) == [
        {"id": FIL_A, "size": 0}
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([REC_A], [REC_A]),
        ([REC_B, REC_A, REC_B], [REC_B, REC_A]),
    ],
)
def test_reference_stores_record_ids_deduped_in_order(
    value: list[str], expected: list[str]
) -> None:
    assert stored("reference", value) == expected


@pytest.mark.parametrize(
    "value",
    [REC_A, [FIL_A], ["rec"], ["rec!!!!!!!!!!!!!!!!"], [5], [None], [[REC_A]], {"id": REC_A}],
)
def test_reference_refuses_anything_but_a_list_of_record_ids(value: Any) -> None:
    with pytest.raises(FieldValueError, match="record ids"):
        validate_value("reference", options_for("reference"), value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (REC_A, [REC_A]),
        (f" {REC_A} ", [REC_A]),
        (f"{REC_A}, {REC_B}", [REC_A, REC_B]),
        ([REC_A, REC_A], [REC_A]),
    ],
)
def test_reference_typecast_reads_a_single_id_or_a_comma_list(
    value: Any, expected: list[str]
) -> None:
    assert stored("reference", value, typecast=True) == expected


# --- as_text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "value", "expected"),
    [
        ("number", 5, "5"),
        ("number", 5.0, "5"),
        ("number", 2.5, "2.5"),
        ("number", -0.0, "0"),
        ("number", 1e16, "1e+16"),
        ("checkbox", True, "true"),
        ("checkbox", False, "false"),
        ("text", "héllo", "héllo"),
        ("date", "2024-03-01", "2024-03-01"),
        ("multiselect", ["Red", "Blue"], "Red, Blue"),
        ("reference", [REC_A, REC_B], f"{REC_A}, {REC_B}"),
        ("attachment", [{"id": FIL_A, "filename": "a.png"}, {"id": FIL_B}], f"a.png, {FIL_B}"),
        ("autonumber", 12, "12"),
        ("text", None, ""),
    ],
)
def test_as_text_renders_values_for_people(
    field_type: FieldType, value: Any, expected: str
) -> None:
    assert as_text(field_type, value) == expected


# --- convert_value -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_type", "to_type", "value", "expected"),
    [
        ("text", "number", "42", 42),
        ("text", "number", " 2.5 ", 2.5),
        ("number", "text", 42, "42"),
        ("number", "text", 2.0, "2"),
        ("number", "long_text", 2.5, "2.5"),
        ("long_text", "text", "one\ntwo", "one two"),
        ("text", "long_text", "one", "one"),
        ("checkbox", "number", True, 1),
        ("checkbox", "number", False, 0),
        ("number", "checkbox", 0, False),
        ("number", "checkbox", -0.5, True),
        ("autonumber", "checkbox", 3, True),
        ("checkbox", "text", False, "false"),
        ("text", "checkbox", "yes", True),
        ("date", "datetime", "2024-03-01", "2024-03-01T00:00:00.000Z"),
        ("datetime", "date", "2024-03-01T23:30:00.000Z", "2024-03-01"),
        ("created_time", "datetime", "2024-03-01T10:00:00.000Z", "2024-03-01T10:00:00.000Z"),
        ("autonumber", "number", 7, 7),
        ("text", "date", "2024/03/01", "2024-03-01"),
        ("text", "email", "Ada@Example.com", "Ada@example.com"),
        ("url", "text", "https://example.com", "https://example.com"),
        ("reference", "text", [REC_A, REC_B], f"{REC_A}, {REC_B}"),
        ("reference", "long_text", [REC_A], REC_A),
        (
            "attachment",
            "text",
            [{"id": FIL_A, "filename": "a.png"}, {"id": FIL_B}],
            f"a.png, {FIL_B}",
        ),
        ("multiselect", "text", ["Red", "Blue"], "Red, Blue"),
        ("select", "text", "Red", "Red"),
        ("text", "reference", f"{REC_A}, {REC_B}", [REC_A, REC_B]),
        ("multiselect", "select", ["Red"], "Red"),
        ("select", "multiselect", "Blue", ["Blue"]),
        ("select", "number", "7", 7),
        ("text", "phone", "555 1234", "555 1234"),
    ],
)
def test_convert_value_between_types(
    from_type: FieldType, to_type: FieldType, value: Any, expected: Any
) -> None:
    result, _ = convert_value(from_type, to_type, options_for(to_type), value)
    assert result == expected
    assert type(result) is type(expected)


def test_convert_text_to_select_adds_the_value_as_a_choice() -> None:
    value, options = convert_value("text", "select", {"choices": []}, "Urgent")
    assert value == "Urgent"
    assert options == {"choices": [{"name": "Urgent", "color": CHOICE_COLORS[0]}]}


def test_convert_text_to_multiselect_splits_commas_into_choices() -> None:
    value, options = convert_value("text", "multiselect", {"choices": []}, "a, b")
    assert value == ["a", "b"]
    assert options is not None
    assert [c["name"] for c in options["choices"]] == ["a", "b"]


def test_convert_select_to_multiselect_adds_a_missing_choice() -> None:
    value, options = convert_value("select", "multiselect", {"choices": []}, "Red")
    assert value == ["Red"]
    assert options is not None
    assert options["choices"][0]["name"] == "Red"


@pytest.mark.parametrize("to_type", sorted(COMPUTED_TYPES))
@pytest.mark.parametrize(
    ("from_type", "value"),
    [("text", "abc"), ("number", 5), ("multiselect", ["Red"]), ("checkbox", True)],
)
def test_convert_into_a_computed_type_gives_no_value(
    from_type: FieldType, to_type: FieldType, value: Any
) -> None:
    assert convert_value(from_type, to_type, {}, value) == (None, None)


@pytest.mark.parametrize(("from_type", "to_type"), [("text", "number"), ("checkbox", "date")])
@pytest.mark.parametrize("empty", [None, "", []])
def test_convert_an_empty_value_gives_no_value(
    from_type: FieldType, to_type: FieldType, empty: Any
) -> None:
    assert convert_value(from_type, to_type, {}, empty) == (None, None)


def test_convert_same_type_revalidates_under_the_new_options() -> None:
    assert convert_value("number", "number", {"precision": 1}, 2.25) == (2.3, None)
    assert convert_value("select", "select", CHOICES, "Red") == ("Red", None)


def test_convert_same_type_refuses_a_choice_the_new_options_lack() -> None:
    with pytest.raises(FieldValueError, match="'Red' is not a choice"):
        convert_value("select", "select", {"choices": []}, "Red")


@pytest.mark.parametrize(
    ("from_type", "to_type", "value", "reason"),
    [
        ("text", "number", "abc", "cannot be converted to number: must be a number"),
        ("multiselect", "select", ["Red", "Blue"], "has more than one choice"),
        ("text", "date", "next week", "cannot be converted to date"),
        ("number", "date", 5, "cannot be converted to date"),
        ("text", "email", "not an email", "email address"),
        ("text", "checkbox", "maybe", "true or false"),
        ("text", "reference", "abc", "record ids"),
        ("text", "attachment", "a.png", "cannot be converted to attachment"),
        ("multiselect", "number", ["1", "2"], "must be a number"),
        ("long_text", "url", "see https://example.com", "URL"),
    ],
)
def test_convert_value_refuses_what_cannot_convert(
    from_type: FieldType, to_type: FieldType, value: Any, reason: str
) -> None:
    with pytest.raises(FieldValueError, match=reason):
        convert_value(from_type, to_type, options_for(to_type), value)


# --- coerce_filter_value -------------------------------------------------------------------------


@pytest.mark.parametrize("field_type", FIELD_TYPES)
@pytest.mark.parametrize("operator", ["is_empty", "is_not_empty"])
def test_emptiness_operators_ignore_the_value(field_type: FieldType, operator: str) -> None:
    assert coerce_filter_value(field_type, operator, {"anything": [1]}) is None


@pytest.mark.parametrize(
    ("field_type", "operator", "value", "expected"),
    [
        ("number", "equals", "10", 10),
        ("number", "greater_than", " 2.5 ", 2.5),
        ("number", "less_equal", 3, 3),
        ("autonumber", "greater_equal", "7", 7),
        ("text", "equals", 10, "10"),
        ("text", "contains", 2.0, "2"),
        ("text", "greater_than", "m", "m"),
        ("long_text", "starts_with", "Hel", "Hel"),
        ("phone", "ends_with", 1234, "1234"),
        ("email", "equals", "Ada@EXAMPLE.com", "Ada@example.com"),
        ("email", "contains", "EXAMPLE", "EXAMPLE"),
        ("url", "not_equals", "https://x.io", "https://x.io"),
        ("select", "equals", "Red", "Red"),
        ("select", "not_equals", "Never a choice", "Never a choice"),
        ("select", "contains", "Re", "Re"),
        ("select", "less_than", "M", "M"),
        ("checkbox", "equals", True, True),
        ("checkbox", "equals", "true", True),
        ("checkbox", "not_equals", 0, False),
        ("date", "equals", "2024-03-01", "2024-03-01"),
        ("date", "less_than", "2024-03-01T23:30:00-02:00", "2024-03-02"),
        ("date", "contains", "2024-03", "2024-03"),
        ("datetime", "greater_than", "2024-03-01", "2024-03-01T00:00:00.000Z"),
        ("datetime", "equals", "2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00.000Z"),
        ("created_time", "less_than", "2024-03-01T10:00:00", "2024-03-01T10:00:00.000Z"),
        ("last_modified_time", "greater_equal", "2024/03/01", "2024-03-01T00:00:00.000Z"),
        ("datetime", "starts_with", "2024-03-01T", "2024-03-01T"),
        ("multiselect", "contains", "Unknown", "Unknown"),
        ("reference", "not_contains", REC_A, REC_A),
        ("attachment", "contains", FIL_A, FIL_A),
        ("multiselect", "equals", "Red", "Red"),
        ("multiselect", "not_equals", 7, "7"),
        ("reference", "equals", REC_A, REC_A),
    ],
)
def test_filter_values_take_the_stored_form(
    field_type: FieldType, operator: str, value: Any, expected: Any
) -> None:
    result = coerce_filter_value(field_type, operator, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("field_type", "values", "expected"),
    [
        ("number", ["1", 2, 3.5], [1, 2, 3.5]),
        ("text", [1, "b"], ["1", "b"]),
        ("select", ["Red", "Nope"], ["Red", "Nope"]),
        ("checkbox", ["yes", False], [True, False]),
        ("date", ["2024/03/01"], ["2024-03-01"]),
        ("multiselect", ["Red", "Blue"], ["Red", "Blue"]),
        ("reference", [REC_A, REC_B], [REC_A, REC_B]),
    ],
)
def test_in_coerces_each_value(
    field_type: FieldType, values: list[Any], expected: list[Any]
) -> None:
    assert coerce_filter_value(field_type, "in", values) == expected


@pytest.mark.parametrize(
    ("field_type", "operator", "value", "reason"),
    [
        ("number", "equals", "abc", "must be a number"),
        ("number", "greater_than", True, "needs a number"),
        ("number", "less_than", [1], "needs a number"),
        ("number", "equals", float("nan"), "finite"),
        ("number", "contains", "1", "cannot be filtered with 'contains'"),
        ("autonumber", "starts_with", "1", "cannot be filtered with 'starts_with'"),
        ("checkbox", "greater_than", True, "cannot be filtered with 'greater_than'"),
        ("checkbox", "contains", "true", "cannot be filtered with 'contains'"),
        ("checkbox", "equals", "maybe", "true or false"),
        ("checkbox", "equals", "", "needs a value"),
        ("multiselect", "greater_than", "Red", "cannot be filtered with 'greater_than'"),
        ("reference", "less_equal", REC_A, "cannot be filtered"),
        ("attachment", "starts_with", FIL_A, "cannot be filtered with 'starts_with'"),
        ("multiselect", "contains", ["Red"], "needs a string"),
        ("reference", "equals", [REC_A], "needs a string"),
        ("date", "less_than", "soon", "must be a date"),
        ("datetime", "greater_than", "not a time", "ISO 8601"),
        ("date", "equals", "", "needs a value"),
        ("text", "equals", None, "needs a value"),
        ("text", "contains", {"a": 1}, "needs a string"),
        ("text", "equals", "nul\x00", "control characters"),
        ("text", "between", "a", "unknown filter operator 'between'"),
        ("text", "in", "a", "non-empty list"),
        ("number", "in", [], "non-empty list"),
        ("number", "in", 5, "non-empty list"),
        ("number", "in", list(range(101)), "at most 100"),
        ("number", "in", ["1", "x"], "must be a number"),
        ("money", "equals", 1, "unknown field type"),
    ],
)
def test_filter_values_are_refused_with_a_reason(
    field_type: Any, operator: str, value: Any, reason: str
) -> None:
    with pytest.raises(FieldValueError, match=_escaped(reason)):
        coerce_filter_value(field_type, operator, value)


def test_in_accepts_a_hundred_values() -> None:
    assert coerce_filter_value("number", "in", list(range(100))) == list(range(100))


def _escaped(reason: str) -> str:
    """A regex matching ``reason`` literally (option paths hold brackets and dots)."""
    return re.escape(reason)
