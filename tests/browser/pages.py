"""What a user does in the demo app, by the demo's CSS class contract (``pa-*`` selectors)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from pyairtable_server.seed import BASE_NAME, DEMO_PASSWORD, WORKSPACE_NAME

from .stack import TABLE_NAME, DemoStack


def sign_in(page: Page, stack: DemoStack, email: str) -> None:
    """Sign in through the login page and wait until the app shows the signed-in user."""
    page.goto(f"{stack.app.url}/login")
    page.locator("input.pa-login-email").fill(email)
    page.locator("input.pa-login-password").fill(DEMO_PASSWORD)
    page.locator("button.pa-login-submit").click()
    expect(page.locator(".pa-user")).to_contain_text(email)


def open_tasks(page: Page) -> None:
    """Open the demo workspace, base and Tasks table, and wait for the grid's rows."""
    page.locator(".pa-workspace", has_text=WORKSPACE_NAME).first.click()
    page.locator(".pa-base", has_text=BASE_NAME).first.click()
    page.locator(".pa-table", has_text=TABLE_NAME).first.click()
    expect(page.locator(".pa-grid .pa-row").first).to_be_visible()


def field_class(name: str) -> str:
    """The CSS class of a field's cells: ``pa-field-`` and the name, non-alphanumerics as ``_``."""
    return "pa-field-" + re.sub(r"[^0-9A-Za-z]", "_", name)


def row_ids(page: Page) -> list[str]:
    """The record ids of the grid's rows, in order, from their ``pa-row-<id>`` classes."""
    ids: list[str] = []
    for classes in page.locator(".pa-grid .pa-row").evaluate_all(
        "rows => rows.map(r => r.className)"
    ):
        found = re.search(r"\bpa-row-(rec\w+)", classes)
        assert found, f"a row without a pa-row-<record id> class: {classes!r}"
        ids.append(found.group(1))
    return ids


def cell(page: Page, record_id: str, field: str) -> Locator:
    """The grid cell of ``field`` in the row of ``record_id``."""
    return page.locator(f".pa-row-{record_id} .pa-cell.{field_class(field)}")


def edit_cell(page: Page, record_id: str, field: str, value: str) -> None:
    """Click a cell, type ``value`` into its editor and commit it with Enter."""
    cell(page, record_id, field).click()
    editor = page.locator("input.pa-cell-editor")
    expect(editor).to_be_visible()
    editor.fill(value)
    editor.press("Enter")
    expect(editor).to_have_count(0)
