"""The demo stack as real processes for browser tests: a backend that can be killed and started
again on the same port and data folder, and the demo app pointed at it.

The backend is ``pyairtable-integration serve`` on SQLite, seeded first with
``pyairtable-integration seed`` (the demo users and the shared demo workspace); the app is
``pyairtable-integration demo --app-only``. Each process writes to its own log file, which an
assertion quotes when a process dies or never answers.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from pyairtable_server.seed import DEMO_EMAIL, DEMO_PASSWORD

from ..server.process import CLI, DEMO_CLI, clean_environment, free_port

#: A guard against a hang, never a measure: a process normally answers in a few seconds.
STARTUP_SECONDS = 90
#: Small, so that the whole Tasks table is one page of the grid.
SEED_RECORDS = 6

TABLE_NAME = "Tasks"


def _log_tail(log: Path, lines: int = 60) -> str:
    if not log.exists():
        return "(no output)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once ``url`` answers 200; raise AssertionError if the process exits or hangs."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{log.stem} exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{log.stem} did not answer {url} in time:\n{_log_tail(log)}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Backend:
    """One backend server on a fixed port and data folder, that can be killed and restarted."""

    port: int
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    #: What runs ``pyairtable-integration`` (a benchmark puts a traced one here).
    command: Sequence[str] = (CLI,)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def seed(self) -> None:
        """Seed the (stopped) backend's database with the demo data; raise if the seed fails."""
        with self.log.open("ab") as log:
            result = subprocess.run(
                [
                    *self.command,
                    *("seed", "--records", str(SEED_RECORDS), "--data-dir", str(self.data_dir)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environment(),
                cwd=self.data_dir.parent,
                check=False,
                timeout=STARTUP_SECONDS,
            )
        if result.returncode != 0:
            raise AssertionError(f"seed exited with {result.returncode}:\n{_log_tail(self.log)}")

    def start(self) -> None:
        """Start the server and return once its health endpoint answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *self.command,
                    *("serve", "--port", str(self.port)),
                    *("--data-dir", str(self.data_dir), "--log-level", "warning"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environment(),
                cwd=self.data_dir.parent,
            )
        _wait_until_answers(f"{self.api_url}/health", self.process, self.log)

    def kill(self) -> None:
        """SIGKILL the server: no shutdown, open connections simply die."""
        process, self.process = self.process, None
        assert process is not None, "the backend is not running"
        process.kill()
        process.wait()

    def stop(self) -> None:
        """Terminate the server if it runs."""
        process, self.process = self.process, None
        _stop(process)


@dataclass
class App:
    """The demo app (``demo --app-only``) on its own port, talking to ``api_url``."""

    port: int
    api_url: str
    log: Path
    cwd: Path
    process: subprocess.Popen[bytes] | None = None
    #: What runs ``pyairtable-demo`` (a benchmark puts a traced one here).
    command: Sequence[str] = (DEMO_CLI,)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the app and return once its login page answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command, "--app-only", "--api-url", self.api_url, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environment(),
                cwd=self.cwd,
            )
        _wait_until_answers(f"{self.url}/login", self.process, self.log)

    def stop(self) -> None:
        """Terminate the app if it runs."""
        process, self.process = self.process, None
        _stop(process)


@dataclass
class DemoStack:
    """A seeded backend and the demo app in front of it, started and stopped together."""

    backend: Backend
    app: App
    _tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        backend_command: Sequence[str] = (CLI,),
        app_command: Sequence[str] = (DEMO_CLI,),
    ) -> DemoStack:
        """The stack's processes, not started, with their files in ``folder``; the commands
        run ``pyairtable-integration`` and ``pyairtable-demo``."""
        data_dir = folder / "data"
        data_dir.mkdir(parents=True)
        backend = Backend(free_port(), data_dir, folder / "backend.log", command=backend_command)
        app = App(free_port(), backend.api_url, folder / "app.log", folder, command=app_command)
        return cls(backend, app)

    def start(self) -> None:
        """Seed and start the backend, then the app; stop both if either fails to start."""
        try:
            self.backend.seed()
            self.backend.start()
            self.app.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the app, then the backend."""
        self.app.stop()
        self.backend.stop()

    def api(self, method: str, path: str, *, email: str = DEMO_EMAIL, **kwargs: Any) -> Any:
        """Call the backend directly as ``email`` and return the JSON answer; raise on an error."""
        with httpx2.Client(base_url=self.backend.api_url, timeout=30) as client:
            token = self._tokens.get(email)
            if token is None:
                login = client.post("/auth/login", json={"email": email, "password": DEMO_PASSWORD})
                assert login.status_code == 200, login.text
                token = self._tokens[email] = login.json()["access_token"]
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
            assert response.status_code < 400, response.text
            return response.json() if response.content else None
