"""Formatting generated code with the repository's own ruff configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ruff_tidy(code: str, path: Path) -> str:
    """``code`` formatted, lint-fixed and formatted again, as ruff would leave ``path``.

    ``--stdin-filename`` makes ruff apply the configuration that governs the real ``path``.
    Raises ``subprocess.CalledProcessError`` when ruff fails (a syntax error in ``code``).
    """
    formatted = _ruff(code, path, "format", "--quiet")
    return _ruff(_ruff(formatted, path, "check", "--fix", "--quiet"), path, "format", "--quiet")


def _ruff(code: str, path: Path, *arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter running ruff)
        [sys.executable, "-m", "ruff", *arguments, "--stdin-filename", str(path), "-"],
        input=code,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return result.stdout
