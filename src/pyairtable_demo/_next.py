"""``pyairtable-demo --next``: the backend and the Next.js demo app, together.

The app lives in the TypeScript package (``packages/frontend-integration/examples/next-app``)
and uses its ``node_modules``: this runs from a source checkout with Node.js 20.19+ and npm.
The package and the app are built once and rebuilt only when their sources change.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from rich.console import Console

from pyairtable_server import seed as seeding
from pyairtable_server.settings import Settings

from ._serve import RECORDS, start_backend

PACKAGE = Path(__file__).resolve().parents[2] / "packages" / "frontend-integration"
APP = PACKAGE / "examples" / "next-app"
STAMP = APP / ".next" / ".source-digest"


def run_next_demo(*, host: str, port: int, api_port: int, data_dir: Path, console: Console) -> None:
    """Serve the backend (seeded on first run) and the Next.js app until interrupted.

    Raises:
        SeedError: the first run could not seed the backend's database.
        RuntimeError: no source checkout, no Node.js/npm, a failed build, or the backend did not
            start.
    """
    if not APP.is_dir():
        raise RuntimeError(f"the Next.js demo runs from a source checkout ({APP} is missing)")
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("the Next.js demo needs Node.js 20.19+ and npm on PATH")
    backend_dir = data_dir / "backend"
    console.print("[bold]Seeding the demo data[/bold] (only on the first run)")
    asyncio.run(seeding.seed(Settings(data_dir=backend_dir), records=RECORDS, console=console))
    api_url = f"http://127.0.0.1:{api_port}/api/v1"
    origin = f"http://localhost:{port}"
    backend = start_backend(
        host, api_port, backend_dir, api_url, env={"PYAIRTABLE_CORS_ORIGINS": origin}
    )
    try:
        build(npm, console)
        env = {
            **os.environ,
            "NEXT_TELEMETRY_DISABLED": "1",
            "PYAT_API_URL": api_url,
            "PYAT_BROWSER_API_URL": api_url,
            "PYAT_SESSION_SECRET": session_secret(data_dir),
        }
        out = Console(highlight=False, soft_wrap=True)
        out.print(f"PyAirtable Next.js demo: {origin}/")
        out.print(f"  sign in as {seeding.DEMO_EMAIL} (or {seeding.DEMO2_EMAIL}), password "
                  f"{seeding.DEMO_PASSWORD}")  # fmt: skip
        out.print(f"  API: {api_url}")
        next_bin = PACKAGE / "node_modules" / ".bin" / "next"
        subprocess.run(  # noqa: S603 - the package's own Next.js, fixed arguments
            [str(next_bin), "start", str(APP), "--port", str(port), "--hostname", host],
            env=env,
            check=False,
        )
    finally:
        backend.terminate()
        backend.wait()


def build(npm: str, console: Console) -> None:
    """``npm ci`` (when needed), the package (tsc) and the app (``next build``), when changed."""
    if not (PACKAGE / "node_modules" / ".bin" / "next").exists():
        console.print("$ npm ci (packages/frontend-integration)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True)  # noqa: S603
    digest = source_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    console.print("Building the package and the Next.js app (once; about a minute)")
    bin_dir = PACKAGE / "node_modules" / ".bin"
    try:
        subprocess.run([str(bin_dir / "tsc"), "-p", "tsconfig.build.json"], cwd=PACKAGE, check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(bin_dir / "next"), "build", str(APP)],
            cwd=PACKAGE,
            env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1", **BUILD_ENV},
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"building the Next.js demo failed ({exc.cmd[0]})") from exc
    STAMP.write_text(digest)


# The app reads these at start; the build only needs them to be present.
BUILD_ENV = {"PYAT_API_URL": "http://127.0.0.1:8080/api/v1", "PYAT_SESSION_SECRET": "x" * 32}


def source_digest() -> str:
    """A digest of everything the build reads: the package's sources, the app, the lock file."""
    digest = hashlib.sha256()
    files = [PACKAGE / "package-lock.json", PACKAGE / "tsconfig.build.json"]
    for folder in (PACKAGE / "src", APP):
        files += [
            path
            for path in folder.rglob("*")
            if path.is_file() and ".next" not in path.parts and path.name != "next-env.d.ts"
        ]
    for path in sorted(files):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def session_secret(data_dir: Path) -> str:
    """The app's cookie secret, generated once into the data dir (mode 0600)."""
    path = data_dir / "next-session-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
