"""The demo app in a real browser, against a real backend process: signing in, a change made in
one browser showing in another, an edit made while the backend is down kept as a pending write
and synced when it returns, and a write the server refuses rolled back with a visible message.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx2
from playwright.sync_api import BrowserContext, Page, expect

from pyairtable_server.seed import DEMO2_EMAIL, DEMO_EMAIL, DEMO_PASSWORD

from .pages import cell, edit_cell, open_tasks, row_ids, sign_in
from .stack import SEED_RECORDS, DemoStack


def _signed_in_grid(context: BrowserContext, stack: DemoStack, email: str) -> Page:
    page = context.new_page()
    sign_in(page, stack, email)
    open_tasks(page)
    return page


def test_a_wrong_password_shows_an_error_and_the_right_one_opens_the_grid(
    stack: DemoStack, contexts: list[BrowserContext], artifacts: Path
) -> None:
    page = contexts[0].new_page()
    page.goto(f"{stack.app.url}/login")
    page.locator("input.pa-login-email").fill(DEMO_EMAIL)
    page.locator("input.pa-login-password").fill(DEMO_PASSWORD + "-wrong")
    page.locator("button.pa-login-submit").click()
    expect(page.locator(".pa-login-error")).to_be_visible()
    expect(page.locator(".pa-user")).to_have_count(0)

    sign_in(page, stack, DEMO_EMAIL)
    open_tasks(page)
    expect(page.locator(".pa-grid .pa-row")).to_have_count(SEED_RECORDS)
    expect(page.locator(".pa-connection")).to_contain_text("live")
    expect(page.locator(".pa-pending")).to_have_text("0")
    page.screenshot(path=artifacts / "grid.png", full_page=True)


def test_an_edit_in_one_browser_shows_in_another_users_browser(
    stack: DemoStack, contexts: list[BrowserContext], artifacts: Path
) -> None:
    writer = _signed_in_grid(contexts[0], stack, DEMO_EMAIL)
    reader = _signed_in_grid(contexts[1], stack, DEMO2_EMAIL)
    record_id = row_ids(writer)[0]
    name = f"Edited in a browser {secrets.token_hex(3)}"

    edit_cell(writer, record_id, "Name", name)

    expect(cell(writer, record_id, "Name")).to_have_text(name)
    # The reader did nothing: the change reaches it through the backend's realtime events.
    expect(cell(reader, record_id, "Name")).to_have_text(name)
    assert stack.api("GET", f"/records/{record_id}")["fields"]["Name"] == name
    reader.screenshot(path=artifacts / "reader.png", full_page=True)


def test_an_edit_made_while_the_backend_is_down_is_pending_and_synced_when_it_returns(
    stack: DemoStack, contexts: list[BrowserContext], artifacts: Path
) -> None:
    writer = _signed_in_grid(contexts[0], stack, DEMO_EMAIL)
    reader = _signed_in_grid(contexts[1], stack, DEMO2_EMAIL)
    record_id = row_ids(writer)[1]
    name = f"Written offline {secrets.token_hex(3)}"
    expect(writer.locator(".pa-connection")).to_contain_text("live")

    stack.backend.kill()
    try:
        edit_cell(writer, record_id, "Name", name)
        expect(writer.locator(".pa-connection")).to_contain_text("offline")
        expect(writer.locator(".pa-pending")).to_have_text("1")
        # Shown at once, optimistically, though the server has not seen it.
        expect(cell(writer, record_id, "Name")).to_have_text(name)
        writer.screenshot(path=artifacts / "offline.png", full_page=True)
    finally:
        stack.backend.start()

    expect(writer.locator(".pa-pending")).to_have_text("0")
    expect(writer.locator(".pa-connection")).to_contain_text("live")
    expect(cell(reader, record_id, "Name")).to_have_text(name)
    assert stack.api("GET", f"/records/{record_id}")["fields"]["Name"] == name
    writer.screenshot(path=artifacts / "synced.png", full_page=True)


def test_a_write_the_server_refuses_is_rolled_back_with_a_visible_message(
    stack: DemoStack, contexts: list[BrowserContext], artifacts: Path
) -> None:
    page = _signed_in_grid(contexts[0], stack, DEMO_EMAIL)
    record_id = row_ids(page)[2]
    before = stack.api("GET", f"/records/{record_id}")["fields"].get("Owner") or ""
    owner = cell(page, record_id, "Owner")
    expect(owner).to_have_text(before)

    # The Owner field is an email field: the editor takes any text, the server answers 422.
    edit_cell(page, record_id, "Owner", "not an email address")

    expect(page.locator(".pa-error-message")).to_be_visible()
    expect(page.locator(".pa-error-message")).to_contain_text("Owner")
    expect(owner).to_have_text(before)
    expect(page.locator(".pa-pending")).to_have_text("0")
    assert (stack.api("GET", f"/records/{record_id}")["fields"].get("Owner") or "") == before
    page.screenshot(path=artifacts / "rejected.png", full_page=True)


def test_rows_added_and_deleted_in_one_browser_come_and_go_in_another(
    stack: DemoStack, contexts: list[BrowserContext], artifacts: Path
) -> None:
    writer = _signed_in_grid(contexts[0], stack, DEMO_EMAIL)
    reader = _signed_in_grid(contexts[1], stack, DEMO2_EMAIL)
    rows = writer.locator(".pa-grid .pa-row")
    before = set(row_ids(writer))
    expect(reader.locator(".pa-grid .pa-row")).to_have_count(len(before))

    writer.locator(".pa-add-row").click()

    expect(rows).to_have_count(len(before) + 1)
    # The optimistic row under its temporary id gives way to the record the server made.
    expect(writer.locator(".pa-grid .pa-row[class*='pa-row-tmp']")).to_have_count(0)
    expect(writer.locator(".pa-error-message")).to_have_count(0)
    expect(rows).to_have_count(len(before) + 1)
    (added,) = set(row_ids(writer)) - before
    expect(reader.locator(f".pa-row-{added}")).to_have_count(1)
    assert stack.api("GET", f"/records/{added}")["id"] == added
    writer.screenshot(path=artifacts / "added.png", full_page=True)

    writer.locator(f".pa-row-{added} .pa-delete-row").click()

    expect(writer.locator(f".pa-row-{added}")).to_have_count(0)
    expect(reader.locator(f".pa-row-{added}")).to_have_count(0)
    assert set(row_ids(reader)) == before
    with httpx2.Client(base_url=stack.backend.api_url, timeout=30) as client:
        login = client.post("/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        token = login.json()["access_token"]
        gone = client.get(f"/records/{added}", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404


def test_the_sign_out_button_signs_out_under_the_pages_security_policy(
    stack: DemoStack, contexts: list[BrowserContext]
) -> None:
    """The page's sign-out form carries the session's CSRF token and its policy lets it post."""
    page = contexts[0].new_page()
    sign_in(page, stack, DEMO_EMAIL)
    expect(page.locator(".pa-user")).to_have_text(DEMO_EMAIL)
    page.locator("button.pa-signout").click()
    page.wait_for_url(f"{stack.app.url}/login")
    page.goto(f"{stack.app.url}/")
    page.wait_for_url(f"{stack.app.url}/login")
