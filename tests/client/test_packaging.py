"""Packaging boundaries: the SDK installs and imports without the server's or the demo's
dependencies, and each command says which extra it needs instead of crashing (issue 15)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Importing a module that is None in sys.modules raises ImportError, as when it is not installed.
_BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_the_base_install_pulls_neither_typer_nor_rich() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {requirement.split(">")[0].split("=")[0] for requirement in project["dependencies"]}
    assert not base & {"typer", "rich", "fastapi", "solara"}
    extras = project["optional-dependencies"]
    assert {"typer>=0.15", "rich>=13"} <= set(extras["server"])
    assert set(project["scripts"].values()) == {
        "pyairtable_server.entry:server",
        "pyairtable_server.entry:demo",
    }


def test_the_sdk_imports_without_the_server_or_the_demos_dependencies() -> None:
    code = _BLOCK.format(names=["typer", "rich", "fastapi", "solara", "sqlalchemy"]) + (
        "import pyairtable_integration, pyairtable_integration.testing\n"
        "import pyairtable_integration.services, pyairtable_integration.realtime\n"
        "assert not [m for m in sys.modules if m.startswith(('pyairtable_server', "
        "'pyairtable_demo'))]\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr


def test_the_server_command_line_does_not_import_the_demo() -> None:
    result = _python(
        "import sys, pyairtable_server.cli\n"
        "assert not [m for m in sys.modules if m.startswith('pyairtable_demo')]\n"
        "commands = pyairtable_server.cli.app.registered_commands\n"
        "assert 'demo' not in {c.callback.__name__ for c in commands if c.callback}\n"
    )
    assert result.returncode == 0, result.stderr


def test_a_command_without_its_extra_says_which_to_install() -> None:
    for entry, extra in (("server", "server"), ("demo", "ui,server")):
        result = _python(
            _BLOCK.format(names=["typer"])
            + f"from pyairtable_server import entry\nentry.{entry}()\n"
        )
        assert result.returncode == 1
        assert f"pip install 'pyairtable-integration[{extra}]'" in result.stderr
        assert "Traceback" not in result.stderr
