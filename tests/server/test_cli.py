"""``pyairtable-integration serve`` on a fresh machine and configured from the environment."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import anyio
import asyncpg
import httpx2
import psutil
import pytest
from websockets.sync.client import connect as ws_connect

from .backend import PASSWORD, PostgresDatabase, postgres_reason_unavailable
from .process import CLI, clean_environment, serving


def _sign_in(base_url: str, email: str = "cli@example.com") -> str:
    with httpx2.Client(base_url=base_url, timeout=30) as client:
        registered = client.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "first_name": "C", "last_name": "L"},
        )
        assert registered.status_code == 201, registered.text
        login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token: str = login.json()["access_token"]
        return token


def test_help_lists_serve() -> None:
    result = subprocess.run([CLI, "--help"], capture_output=True, text=True, check=True)
    assert "serve" in result.stdout


def test_serve_starts_on_a_fresh_machine_and_says_where(tmp_path: Path) -> None:
    """No configuration at all: SQLite in ./.pyairtable, created, migrated, announced."""
    with serving(env=clean_environment(), cwd=tmp_path) as served:
        _sign_in(served.base_url)
        data_dir = (tmp_path / ".pyairtable").resolve()
        assert f"listening on http://127.0.0.1:{served.port}/api/v1" in served.output
        assert str(data_dir) in served.output
        database = data_dir / "pyairtable.db"
        assert database.exists()
        key_file = data_dir / "secret_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        secret = key_file.read_text().strip()
        assert len(secret) >= 32
    assert secret not in served.output
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_the_generated_key_is_kept_so_tokens_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving("--data-dir", str(data_dir), env=clean_environment(), cwd=tmp_path) as served:
        token = _sign_in(served.base_url)
    key = (data_dir / "secret_key").read_text()
    with serving("--data-dir", str(data_dir), env=clean_environment(), cwd=tmp_path) as served:
        me = httpx2.get(
            f"{served.base_url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert me.status_code == 200
    assert (data_dir / "secret_key").read_text() == key


def test_environment_sets_secret_key_and_cors_origins(tmp_path: Path) -> None:
    env = clean_environment(
        PYAIRTABLE_SECRET_KEY="k" * 48,
        PYAIRTABLE_CORS_ORIGINS="https://a.example, https://b.example",
        PYAIRTABLE_DATA_DIR=str(tmp_path / "env-data"),
    )
    with serving(env=env, cwd=tmp_path) as served:
        preflight = httpx2.options(
            f"{served.base_url}/workspaces",
            headers={"Origin": "https://b.example", "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
        assert preflight.headers["access-control-allow-origin"] == "https://b.example"
        assert str((tmp_path / "env-data").resolve()) in served.output
    assert not (tmp_path / "env-data" / "secret_key").exists()
    assert "k" * 48 not in served.output


def test_database_url_from_the_environment_selects_postgresql(tmp_path: Path) -> None:
    reason = postgres_reason_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires PostgreSQL", pytrace=False)
        pytest.skip(reason)
    database = PostgresDatabase()
    database.create()
    try:
        plain_url = "postgresql://" + database.dsn.split("://", 1)[1]
        env = clean_environment(PYAIRTABLE_DATABASE_URL=plain_url)
        with serving(env=env, cwd=tmp_path) as served:
            _sign_in(served.base_url, "pg@example.com")
            assert "postgresql+asyncpg://" in served.output
        assert not (tmp_path / ".pyairtable" / "pyairtable.db").exists()

        async def count_users() -> int:
            conn = await asyncpg.connect(database.dsn)
            try:
                value: int = await conn.fetchval("SELECT count(*) FROM users")
                return value
            finally:
                await conn.close()

        assert anyio.run(count_users) == 1
    finally:
        database.drop()


def test_serve_with_workers_shares_realtime_between_them(tmp_path: Path) -> None:
    """``--workers 2``: two processes on one port; every event reaches a socket on either."""
    env = clean_environment(PYAIRTABLE_REALTIME_POLL_INTERVAL_SECONDS="0.2")
    with serving("--workers", "2", env=env, cwd=tmp_path) as served:
        workers = psutil.Process(served.process.pid).children(recursive=True)
        assert len([child for child in workers if "python" in child.name()]) >= 2
        token = _sign_in(served.base_url)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx2.Client(base_url=served.base_url, headers=headers, timeout=30) as client:
            workspace = client.post("/workspaces", json={"name": "W"}).json()
            base = client.post("/bases", json={"workspace_id": workspace["id"], "name": "B"})
            table = client.post("/tables", json={"base_id": base.json()["id"], "name": "T"}).json()
        with ws_connect(f"ws://127.0.0.1:{served.port}/ws", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(ws.recv(timeout=10))["type"] == "auth_ok"
            ws.send(json.dumps({"type": "subscribe", "subscription_id": "s", "channel": "record"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscription_confirmed"
            written = []
            for index in range(20):
                # A new connection each time, so the kernel spreads them over the workers.
                response = httpx2.post(
                    f"{served.base_url}/records",
                    json={"table_id": table["id"], "fields": {"Name": f"r{index}"}},
                    headers=headers,
                    timeout=30,
                )
                assert response.status_code == 201, response.text
                written.append(response.json()["id"])
            received = [json.loads(ws.recv(timeout=30))["event"]["aggregate_id"] for _ in written]
    assert received == written
