"""The demo's Solara pages: workspaces, bases and tables, a live grid, and a status panel.

Every page (a Solara kernel) gets its own integration, signed in as the browser's session and
running on the demo's page loop; it is closed when the page goes away.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import solara
import solara.lab

from pyairtable_integration import PyAirtableIntegration
from pyairtable_integration.types import Event, Record, TableField
from pyairtable_integration.ui.solara import (
    PyAirtableProvider,
    use_connection,
    use_live,
    use_optimistic_update,
    use_pyairtable,
    use_realtime,
    use_records,
)

from ._cells import cell_css, display, editable_text, new_row_fields, parse_input, read_only
from ._runtime import current

RECENT_EVENTS = 20


@solara.component
def Page() -> None:
    """The page at ``/``: the signed-in browser's app, or a link to sign in."""
    runtime = current()
    cookies = solara.lab.cookies.value or {}
    session_id = runtime.session_id(dict(cookies))
    if session_id is None:
        solara.HTML(unsafe_innerHTML='You are signed out. <a href="/login">Sign in</a>')
    else:
        SignedIn(session_id)


@solara.component
def SignedIn(session_id: str) -> None:
    """The app for the browser's session, with an integration of its own for this page."""
    runtime = current()
    integration = solara.use_memo(lambda: runtime.page_integration(session_id), [session_id])

    def close_with_page() -> Callable[[], None]:
        def close() -> None:
            runtime.loop.submit(integration.aclose())

        return close

    solara.use_effect(close_with_page, [integration])
    csrf = runtime.auth.csrf.issue(session_id)
    PyAirtableProvider(integration, runtime.loop.loop, children=[App(csrf=csrf)])


@solara.component
def App(csrf: str) -> None:
    """Header, the workspace / base / table chooser, the grid and the side panel."""
    pa = use_pyairtable().integration
    workspace_id, set_workspace_id = solara.use_state(None)
    base_id, set_base_id = solara.use_state(None)
    table_id, set_table_id = solara.use_state(None)
    user = pa.auth.user
    with solara.Column(gap="8px", style={"padding": "12px"}):
        Header(email=user.email if user is not None else "", csrf=csrf)
        with solara.Row(gap="16px", style={"align-items": "flex-start"}):
            with solara.Column(gap="4px", style={"min-width": "220px"}):
                Workspaces(workspace_id, lambda chosen: _choose(chosen, set_workspace_id))
                if workspace_id is not None:
                    Bases(workspace_id, base_id, set_base_id)
                if base_id is not None:
                    Tables(base_id, table_id, set_table_id)
            with solara.Column(style={"flex": "1", "min-width": "0", "overflow-x": "auto"}):
                if table_id is None:
                    solara.Text("Choose a workspace, a base and a table.")
                else:
                    Grid(table_id)
            SidePanel()


def _choose(chosen: str | None, setter: Callable[[str | None], None]) -> None:
    setter(chosen)


@solara.component
def Header(email: str, csrf: str) -> None:
    """Who is signed in, the connection indicator, pending writes and the sign-out button."""
    connection = use_connection()
    with solara.Row(gap="16px", style={"align-items": "center"}):
        solara.Text("PyAirtable demo", style={"font-weight": "bold", "font-size": "1.2em"})
        solara.Text(email, classes=["pa-user"])
        solara.Text(connection.indicator, classes=["pa-connection"])
        solara.Text("pending writes:")
        solara.Text(str(connection.pending_writes), classes=["pa-pending"])
        solara.HTML(
            unsafe_innerHTML=(
                '<form method="post" action="/signout" style="margin:0">'
                f'<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">'
                '<button class="pa-signout" type="submit">Sign out</button></form>'
            )
        )


@solara.component
def Workspaces(selected: str | None, choose: Callable[[str | None], None]) -> None:
    """One button per workspace of the signed-in user."""
    state = use_live(lambda live: live.workspaces(), [])
    solara.Text("Workspaces", style={"font-weight": "bold"})
    _status(state.status, state.error)
    for workspace in state.data or []:
        solara.Button(
            workspace.name,
            on_click=lambda chosen=workspace.id: choose(chosen),
            text=workspace.id != selected,
            classes=["pa-workspace"],
        )


@solara.component
def Bases(workspace_id: str, selected: str | None, choose: Callable[[str | None], None]) -> None:
    """One button per base of the chosen workspace."""
    state = use_live(lambda live: live.bases(workspace_id), [workspace_id])
    solara.Text("Bases", style={"font-weight": "bold"})
    _status(state.status, state.error)
    for base in state.data or []:
        solara.Button(
            base.name,
            on_click=lambda chosen=base.id: choose(chosen),
            text=base.id != selected,
            classes=["pa-base"],
        )


@solara.component
def Tables(base_id: str, selected: str | None, choose: Callable[[str | None], None]) -> None:
    """One button per table of the chosen base."""
    state = use_live(lambda live: live.tables(base_id), [base_id])
    solara.Text("Tables", style={"font-weight": "bold"})
    _status(state.status, state.error)
    for table in state.data or []:
        solara.Button(
            table.name,
            on_click=lambda chosen=table.id: choose(chosen),
            text=table.id != selected,
            classes=["pa-table"],
        )


@solara.component_vue("grid.vue", vuetify=False)
def GridView(
    fields: list[dict[str, Any]],
    rows_json: str,
    primary_field: str,
    sort_field: str,
    on_sort_field: Callable[[str], None],
    sort_direction: str,
    on_sort_direction: Callable[[str], None],
    filter_text: str,
    on_filter_text: Callable[[str], None],
    event_commit: Callable[[dict[str, Any]], None],
    event_add_row: Callable[[Any], None],
    event_delete_row: Callable[[str], None],
) -> None:
    """The grid itself, in the browser (``grid.vue``): cells, the editor, sort and filter.

    ``rows_json`` is the rows (``_row``) as one JSON text, which the page parses: as a list of
    dicts, every render would walk each cell's values three times (reacton looking for elements
    in the arguments, traitlets validating, ipywidgets serialising); ``json.dumps`` once is a
    third of the grid's render CPU less on every live change (bench/demo_paint.py).
    """


@solara.component
def Grid(table_id: str) -> None:
    """A table's records, live: typed cells, inline edits, add and delete, sort and filter."""
    pa = use_pyairtable().integration
    table = use_live(lambda live: live.table(table_id), [table_id])
    sort_field, set_sort_field = solara.use_state("")
    sort_direction, set_sort_direction = solara.use_state("asc")
    filter_text, set_filter_text = solara.use_state("")
    fields: list[TableField] = list(table.data.fields) if table.data is not None else []
    primary = next((field.name for field in fields if field.is_primary), "")
    condition = {"field": primary, "operator": "contains", "value": filter_text}
    records = use_records(
        table_id,
        filter={"conjunction": "and", "conditions": [condition]} if filter_text else None,
        sort=[{"field": sort_field, "direction": sort_direction}] if sort_field else None,
    )
    update, updating = use_optimistic_update(_writer(pa, table_id, "update"))
    create, creating = use_optimistic_update(_writer(pa, table_id, "create"))
    delete, deleting = use_optimistic_update(_writer(pa, table_id, "delete"))
    by_name = {field.name: field for field in fields}

    def commit(change: dict[str, Any]) -> None:
        field = by_name.get(str(change.get("field")))
        if field is None:
            return
        value = parse_input(field.type, str(change.get("text", "")))
        update(str(change["record_id"]), {field.name: value})

    _status(records.status, records.error)
    if table.data is None:
        return
    failed = next(
        (state.error for state in (updating, creating, deleting) if state.error is not None), None
    )
    if failed is not None:
        solara.Text(f"Not saved: {failed.message}", classes=["pa-error-message"])
    GridView(
        fields=[{"name": f.name, "type": f.type, "css": cell_css(f.name)} for f in fields],
        rows_json=json.dumps(
            [_row(record, fields) for record in records.data or []], separators=(",", ":")
        ),
        primary_field=primary,
        sort_field=sort_field,
        on_sort_field=set_sort_field,
        sort_direction=sort_direction,
        on_sort_direction=set_sort_direction,
        filter_text=filter_text,
        on_filter_text=set_filter_text,
        event_commit=commit,
        event_add_row=lambda _data: create(
            new_row_fields([field.model_dump(mode="json") for field in fields])
        ),
        event_delete_row=lambda record_id: delete(record_id),
    )
    if records.is_stale or records.fetch_status != "idle" or records.is_optimistic:
        solara.Text(
            f"{records.fetch_status}{', stale' if records.is_stale else ''}"
            f"{', unconfirmed writes shown' if records.is_optimistic else ''}",
            style={"color": "#888"},
        )


def _writer(
    pa: PyAirtableIntegration, table_id: str, kind: str
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The write a grid action runs: through the offline outbox when it is on (so a write made
    offline is queued and sent later), else an optimistic ``pa.mutate`` write."""

    async def update(record_id: str, fields: dict[str, Any]) -> Any:
        if pa.offline.enabled:
            return await pa.offline.update_record(record_id, fields, table_id=table_id)
        return await pa.mutate.update_record(record_id, fields, table_id=table_id)

    async def create(fields: dict[str, Any]) -> Any:
        if pa.offline.enabled:
            return await pa.offline.create_record(table_id, fields)
        return await pa.mutate.create_record(table_id, fields)

    async def delete(record_id: str) -> Any:
        if pa.offline.enabled:
            return await pa.offline.delete_record(record_id, table_id=table_id)
        return await pa.mutate.delete_record(record_id, table_id=table_id)

    writers: dict[str, Callable[..., Coroutine[Any, Any, Any]]] = {
        "update": update,
        "create": create,
        "delete": delete,
    }
    return writers[kind]


def _row(record: Record, fields: list[TableField]) -> dict[str, Any]:
    cells = []
    for field in fields:
        value = record.fields.get(field.name)
        cells.append(
            {
                "field": field.name,
                "type": field.type,
                "css": cell_css(field.name),
                "text": display(field.type, value),
                "raw": editable_text(field.type, value),
                "value": bool(value) if field.type == "checkbox" else None,
                "readonly": read_only(field.type),
            }
        )
    # A record made offline has a temporary id until the server answers.
    optimistic = not record.id.startswith("rec")
    return {
        "id": re.sub(r"[^A-Za-z0-9_-]", "_", record.id),
        "cells": cells,
        "optimistic": optimistic,
    }


@solara.component
def SidePanel() -> None:
    """Cache statistics, the services' health and the latest events.

    It follows the events itself, so that an event re-renders this panel only, not the whole
    app: the grid's own render (its live query) is what paints a change.
    """
    binding = use_pyairtable()
    pa = binding.integration
    checked, set_checked = solara.use_state(0)
    events = solara.use_ref([])
    event_count, set_event_count = solara.use_state(0)

    def remember(event: Event) -> None:
        events.current = [event, *events.current][:RECENT_EVENTS]
        set_event_count(lambda count: count + 1)

    use_realtime(remember, channel="*")

    def check_health() -> None:
        async def check() -> None:
            try:
                await pa.check_health()
            finally:
                set_checked(lambda count: count + 1)

        binding.submit(check())

    solara.use_effect(check_health, [])
    stats = pa.cache.manager.get_stats()
    health = pa.get_service_health()
    with solara.Column(gap="6px", style={"width": "280px", "font-size": "0.85em"}):
        solara.Text("Cache", style={"font-weight": "bold"})
        solara.Text(
            f"hits {stats.hits}, misses {stats.misses}, hit ratio {stats.hit_ratio:.0%}, "
            f"entries {stats.size}/{stats.max_size}, evictions {stats.evictions}",
            classes=["pa-cache-stats"],
        )
        solara.Text("Service health", style={"font-weight": "bold"})
        lines = [
            f"{name}: {status.backend_status or '?'} (breaker {status.breaker})"
            for name, status in health.items()
        ]
        solara.HTML(
            tag="div",
            unsafe_innerHTML="<br>".join(html.escape(line) for line in lines) or "checking...",
            classes=["pa-service-health"],
        )
        solara.Button("Check again", on_click=check_health, text=True, disabled=checked == 0)
        solara.Text(f"Recent events ({event_count} seen)", style={"font-weight": "bold"})
        items = "".join(
            f"<li>#{event.seq} {html.escape(event.type)} {html.escape(event.aggregate_id)}</li>"
            for event in events.current
        )
        solara.HTML(tag="ul", unsafe_innerHTML=items, classes=["pa-recent-events"])


def _status(status: str, error: Any) -> None:
    if status == "pending":
        solara.Text("Loading...", style={"color": "#888"})
    elif status == "error" and error is not None:
        solara.Text(f"Could not load: {error.message}", style={"color": "#b00020"})


__all__ = ["Page"]
