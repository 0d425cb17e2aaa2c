"""Database errors that mean "try again" are told apart from real failures (pure checks)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from pyairtable_server.errors import is_transient


class _PgError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__(pgcode)
        self.pgcode = pgcode


@pytest.mark.parametrize("code", ["40P01", "40001", "55P03"])
def test_postgres_deadlocks_and_serialization_failures_are_transient(code: str) -> None:
    assert is_transient(DBAPIError("UPDATE …", {}, _PgError(code)))


def test_other_postgres_errors_are_not_transient() -> None:
    assert not is_transient(IntegrityError("INSERT …", {}, _PgError("23505")))


def test_a_locked_sqlite_database_is_transient() -> None:
    locked = sqlite3.OperationalError("database is locked")
    assert is_transient(OperationalError("BEGIN IMMEDIATE", {}, locked))


def test_other_sqlite_errors_and_foreign_exceptions_are_not_transient() -> None:
    assert not is_transient(
        OperationalError("SELECT", {}, sqlite3.OperationalError("no such table"))
    )
    assert not is_transient(RuntimeError("database is locked"))
