"""Run ``pyairtable-integration serve`` as a real process on a free port, for CLI tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

CLI = str(Path(sys.executable).parent / "pyairtable-integration")
#: The demo's own command (not one of the server's).
DEMO_CLI = str(Path(sys.executable).parent / "pyairtable-demo")
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment(**extra: str) -> dict[str, str]:
    """The current environment without any PYAIRTABLE_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYAIRTABLE_")}
    return {**env, **extra}


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def serving(
    *args: str, env: dict[str, str], cwd: Path, startup_seconds: float = STARTUP_SECONDS
) -> Iterator[Served]:
    """Start the server with ``args`` and yield once its health endpoint answers; raise
    AssertionError if it exits first or has not answered after ``startup_seconds`` (a hang
    guard)."""
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--log-level", "warning", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(process, port)
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: served.lines.extend(iter(stdout.readline, "")))
    reader.start()
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                reader.join(5)
                raise AssertionError(f"server exited with {process.returncode}:\n{served.output}")
            try:
                if httpx2.get(f"{served.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer in time:\n{served.output}")
            time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)
        stdout.close()
