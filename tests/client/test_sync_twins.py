"""The blocking facade is typed: generated twins of the services, fresh, seen by mypy (issue 15).

The facade used to reach service methods through a ``__getattr__`` proxy typed ``Any``: a typo
ran until it failed at runtime and every result was ``Any``. Now ``pa.services.<service>`` are
twins generated from the async clients (``tools/generate_sync.py``).
"""

from __future__ import annotations

from pathlib import Path

from mypy import api as mypy_api
from tools.generate_sync import FIX_COMMAND, render, stale_diff

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = """
from typing import assert_type
from collections.abc import Iterator

from pyairtable_integration import (
    MutationResult,
    PendingUpdate,
    RealtimeState,
    Session,
    Subscription,
    SyncIntegration,
)
from pyairtable_integration.types import Record, RecordList, Workspace


def use(pa: SyncIntegration) -> None:
    assert_type(pa.services.record.get_record("rec0000000000000000"), Record)
    assert_type(pa.services.record.get_records("tbl0000000000000000"), RecordList)
    assert_type(pa.services.record.iter_records("tbl0000000000000000"), Iterator[Record])
    assert_type(pa.services.workspace.create_workspace(name="W"), Workspace)
    pa.services.record.delete_record("rec0000000000000000", expected_version=2)
    assert_type(pa.offline.pending_count, int)
    assert_type(pa.optimistic.get_pending_updates(), list[PendingUpdate])
    assert_type(pa.auth.login("a@example.com", "password"), Session)
    assert_type(pa.realtime.state, RealtimeState)
    assert_type(pa.realtime.subscribe("*", None, print), Subscription)
    assert_type(pa.mutate.create_record("tbl0000000000000000", {}), MutationResult)
"""


def test_the_twins_equal_a_fresh_generation() -> None:
    diff = stale_diff(render())
    assert not diff, f"the blocking twins are out of date; run: {FIX_COMMAND}\n{diff}"


def _mypy(tmp_path: Path, code: str) -> tuple[str, int]:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(code, encoding="utf-8")
    out, err, status = mypy_api.run(
        ["--strict", "--config-file", str(ROOT / "pyproject.toml"), str(snippet)]
    )
    return out + err, status


def test_mypy_sees_the_facades_return_types_and_refuses_a_misspelt_method(
    tmp_path: Path,
) -> None:
    report, status = _mypy(tmp_path, SNIPPET)
    assert status == 0, report
    typo = SNIPPET + '    pa.services.record.get_recrod("rec0000000000000000")\n'
    report, status = _mypy(tmp_path, typo)
    assert status == 1
    assert 'has no attribute "get_recrod"' in report
    typo = SNIPPET + '    pa.offline.creat_record("tbl0000000000000000", {})\n'
    report, status = _mypy(tmp_path, typo)
    assert status == 1 and 'has no attribute "creat_record"' in report
    wrong = SNIPPET + "    pa.services.record.get_record(42)\n"
    report, status = _mypy(tmp_path, wrong)
    assert status == 1 and "incompatible type" in report
