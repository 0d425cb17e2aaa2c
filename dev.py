#!/usr/bin/env python3
"""Everything a developer runs, from a fresh clone, with nothing but Python 3.11+.

    python3 dev.py demo  [demo options]    the demo: backend (seeded) and web app; prints its URL
    python3 dev.py serve [serve options]   start the API server (SQLite in ./.pyairtable)
    python3 dev.py test  [pytest options]  format check, lint, mypy --strict, the test suite,
                                           then the TypeScript package's lint, type check and tests
    python3 dev.py bench                   the benchmarks in bench/ (Python, then the TS one)
    python3 dev.py generate-types [--check]  regenerate the SDKs' wire types (Python and
                                           TypeScript) from the backend's OpenAPI document
                                           (--check: fail with a diff if stale)

The first run creates ``.venv`` and installs the project with the exact pins of
``constraints.txt`` (with uv when it is on PATH, else pip); later runs reinstall only when
``pyproject.toml`` or ``constraints.txt`` changed. Only the standard library is used here,
because this script is what installs everything else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
EXTRAS = "server,web,ui,postgres,redis,dev"
TS_PACKAGE = ROOT / "packages" / "frontend-integration"
TS_BIN = TS_PACKAGE / "node_modules" / ".bin"
TS_STAMP = TS_PACKAGE / "node_modules" / ".lock-digest"


def _run(*command: str | Path) -> None:
    subprocess.run([str(part) for part in command], cwd=ROOT, check=True)


def _inputs_digest() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create and fill .venv if it is missing or out of date."""
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is required.")
    wanted = _inputs_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    uv = shutil.which("uv")
    python = BIN / "python"
    print("Installing the project into .venv (first run, or dependencies changed)...", flush=True)
    if uv:
        if not python.exists():
            _run(uv, "venv", "--quiet", "--python", sys.executable, VENV)
        _run(uv, "pip", "install", "--quiet", "--python", python, "-c", "constraints.txt",
             "-e", f".[{EXTRAS}]")  # fmt: skip
    else:
        if not python.exists():
            _run(sys.executable, "-m", "venv", VENV)
        _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        _run(python, "-m", "pip", "install", "--quiet", "-c", "constraints.txt",
             "-e", f".[{EXTRAS}]")  # fmt: skip
    STAMP.write_text(wanted)


def _node_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        sys.exit(f"The TypeScript package needs Node.js 20.19+ and npm; {name} is not on PATH.")
    return found


def ensure_node_modules() -> None:
    """``npm ci`` the TypeScript package when node_modules is missing or its lock file changed."""
    wanted = hashlib.sha256((TS_PACKAGE / "package-lock.json").read_bytes()).hexdigest()
    if TS_STAMP.exists() and TS_STAMP.read_text() == wanted:
        return
    print("$ npm ci (packages/frontend-integration)", flush=True)
    subprocess.run([_node_tool("npm"), "ci", "--no-audit", "--no-fund"], cwd=TS_PACKAGE, check=True)
    TS_STAMP.write_text(wanted)


def _run_steps(steps: list[list[str | Path]], cwd: Path) -> int:
    for step in steps:
        print("$", " ".join(str(part.name if isinstance(part, Path) else part) for part in step))
        result = subprocess.run([str(part) for part in step], cwd=cwd, check=False)
        if result.returncode != 0:
            return result.returncode
    return 0


# Two pytest-xdist workers, one per core: the suite spends about half its time waiting on
# servers, sockets and timers, so two workers nearly halve it, while more than the cores would
# starve the tests' own servers (start-up and handshake guards then trip). Each test module runs
# whole on one worker (``loadscope``), keeping its fixtures shared.
TEST_WORKERS = ("-n", "2", "--dist", "loadscope")


def _with_workers(pytest_args: list[str]) -> list[str]:
    """``pytest_args`` with the default workers unless the caller chose (``-n``, ``no:xdist``)."""
    chosen = any(arg.startswith(("-n", "--numprocesses", "no:xdist")) for arg in pytest_args)
    return pytest_args if chosen else [*TEST_WORKERS, *pytest_args]


def check_all(pytest_args: list[str]) -> int:
    """Format check, lint, strict typing, then the tests; stop at the first failure.

    The TypeScript package follows the Python steps: Biome (lint and format), ``tsc --noEmit``,
    then Vitest's Node and browser (Chromium) projects against the real backend.
    """
    python_steps: list[list[str | Path]] = [
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "ruff", "check", "."],
        [BIN / "mypy"],
        [BIN / "pytest", *_with_workers(pytest_args)],
    ]
    failed = _run_steps(python_steps, ROOT)
    if failed:
        return failed
    ensure_node_modules()
    typescript_steps: list[list[str | Path]] = [
        [TS_BIN / "biome", "check", "--error-on-warnings", "."],
        [TS_BIN / "tsc", "--noEmit", "-p", "tsconfig.json"],
        [TS_BIN / "vitest", "run"],
    ]
    return _run_steps(typescript_steps, TS_PACKAGE)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in {"demo", "serve", "test", "bench", "generate-types"}:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    ensure_environment()
    if command == "demo":
        os.execv(BIN / "pyairtable-demo", [str(BIN / "pyairtable-demo"), *rest])
    if command == "serve":
        os.execv(
            BIN / "pyairtable-integration", [str(BIN / "pyairtable-integration"), command, *rest]
        )
    if command == "test":
        return check_all(rest)
    if command == "generate-types":
        python = subprocess.run(
            [str(BIN / "python"), "-m", "tools.generate_types", *rest], cwd=ROOT, check=False
        )
        # The blocking twins follow the async services (and the types they name).
        sync = subprocess.run(
            [str(BIN / "python"), "-m", "tools.generate_sync", *rest], cwd=ROOT, check=False
        )
        ensure_node_modules()
        typescript = subprocess.run(
            [_node_tool("node"), "scripts/generate-types.mjs", *rest], cwd=TS_PACKAGE, check=False
        )
        return python.returncode or sync.returncode or typescript.returncode
    benches = sorted((ROOT / "bench").glob("[!_]*.py"))
    for bench in benches:
        print(f"$ python bench/{bench.name}", flush=True)
        subprocess.run([str(BIN / "python"), str(bench), *rest], cwd=ROOT, check=True)
    ensure_node_modules()
    print("$ node bench/frontend_integration.mjs", flush=True)
    subprocess.run(
        [
            _node_tool("node"),
            "--experimental-websocket",
            str(ROOT / "bench" / "frontend_integration.mjs"),
        ],
        cwd=TS_PACKAGE,
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
