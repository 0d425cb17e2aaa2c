"""Conflict strategies as pure functions: no event loop, no backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pyairtable_integration.optimistic import (
    conflicting_fields,
    resolve_conflict,
    resolve_delete_conflict,
    server_changes,
)

BASE = {"Name": "Ada", "Age": 36, "Team": "math"}


def test_server_changes_lists_changed_added_and_removed_fields() -> None:
    current = {"Name": "Ada", "Age": 37, "Notes": "new"}
    assert server_changes(BASE, current) == {"Age": 37, "Notes": "new", "Team": None}


def test_without_a_base_every_current_field_counts_as_changed() -> None:
    assert server_changes(None, {"Name": "Ada"}) == {"Name": "Ada"}


def test_same_value_on_both_sides_is_not_a_conflict() -> None:
    current = {**BASE, "Age": 40}
    assert conflicting_fields({"Age": 40}, BASE, current) == frozenset()
    assert conflicting_fields({"Age": 41}, BASE, current) == {"Age"}


def test_server_wins_adopts_the_server_record() -> None:
    resolution = resolve_conflict("server_wins", {"Name": "Ada L."}, BASE, {**BASE, "Age": 37})
    assert (resolution.action, resolution.decided_by, resolution.fields) == (
        "adopt_server",
        "server_wins",
        {},
    )


def test_client_wins_resends_the_local_change_even_over_the_same_field() -> None:
    resolution = resolve_conflict("client_wins", {"Name": "Mine"}, BASE, {**BASE, "Name": "Theirs"})
    assert (resolution.action, resolution.fields) == ("resend", {"Name": "Mine"})


def test_merge_resends_the_local_change_when_the_server_changed_other_fields() -> None:
    current = {**BASE, "Age": 37}
    resolution = resolve_conflict("merge", {"Name": "Ada L."}, BASE, current)
    assert (resolution.action, resolution.decided_by, resolution.fields) == (
        "resend",
        "merge",
        {"Name": "Ada L."},
    )
    assert resolution.conflicting == frozenset()


def test_merge_on_the_same_field_asks_the_resolver_with_change_base_and_current() -> None:
    seen: list[tuple[Mapping[str, Any], Mapping[str, Any] | None, Mapping[str, Any]]] = []

    def resolver(
        local: Mapping[str, Any], base: Mapping[str, Any] | None, current: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        seen.append((local, base, current))
        return {"Name": f"{current['Name']} / {local['Name']}"}

    current = {**BASE, "Name": "Theirs"}
    resolution = resolve_conflict("merge", {"Name": "Mine"}, BASE, current, resolver=resolver)
    assert seen == [({"Name": "Mine"}, BASE, current)]
    assert (resolution.action, resolution.decided_by, resolution.fields) == (
        "resend",
        "resolver",
        {"Name": "Theirs / Mine"},
    )
    assert resolution.conflicting == {"Name"}


def test_merge_on_the_same_field_without_a_resolver_falls_back_to_server_wins_and_says_so() -> None:
    current = {**BASE, "Name": "Theirs", "Age": 37}
    resolution = resolve_conflict("merge", {"Name": "Mine", "Team": "navy"}, BASE, current)
    assert (resolution.action, resolution.decided_by) == ("adopt_server", "server_wins")
    assert resolution.conflicting == {"Name"}


def test_a_resolver_returning_none_adopts_the_server_record() -> None:
    resolution = resolve_conflict(
        "merge",
        {"Name": "Mine"},
        BASE,
        {**BASE, "Name": "Theirs"},
        resolver=lambda local, base, current: None,
    )
    assert (resolution.action, resolution.decided_by) == ("adopt_server", "resolver")


def test_a_custom_strategy_decides_every_conflict() -> None:
    def keep_larger_age(
        local: Mapping[str, Any], base: Mapping[str, Any] | None, current: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        return {"Age": max(local["Age"], current["Age"])}

    resolution = resolve_conflict(keep_larger_age, {"Age": 50}, BASE, {**BASE, "Age": 60})
    assert (resolution.action, resolution.decided_by, resolution.fields) == (
        "resend",
        "custom",
        {"Age": 60},
    )


def test_an_unknown_strategy_name_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown conflict strategy"):
        resolve_conflict("newest_wins", {}, BASE, BASE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown conflict strategy"):
        resolve_delete_conflict("newest_wins")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("strategy", "action"),
    [("client_wins", "resend"), ("server_wins", "adopt_server"), ("merge", "adopt_server")],
)
def test_only_client_wins_deletes_a_record_changed_since_it_was_seen(
    strategy: str, action: str
) -> None:
    assert resolve_delete_conflict(strategy).action == action  # type: ignore[arg-type]
