"""The installed commands' entry points, importable without the extras they need.

One distribution installs ``pyairtable-integration`` (the server's command line, ``[server]``)
and ``pyairtable-demo`` (``[ui]`` and ``[server]``) whatever extras were chosen; without them a
command says which extra to install and exits 1, instead of failing with an import traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _run(load: Callable[[], Callable[[], None]], command: str, extras: str) -> None:
    try:
        main = load()
    except ImportError as exc:
        sys.stderr.write(
            f"{command} needs the {extras} extra: pip install 'pyairtable-integration[{extras}]'"
            f" ({exc.name or exc} is missing)\n"
        )
        raise SystemExit(1) from None
    main()


def _server() -> Callable[[], None]:
    from .cli import main

    return main


def _demo() -> Callable[[], None]:
    from pyairtable_demo.cli import main

    return main


def server() -> None:
    """``pyairtable-integration``: the reference backend and its tools."""
    _run(_server, "pyairtable-integration", "server")


def demo() -> None:
    """``pyairtable-demo``: the backend and the demo app together."""
    _run(_demo, "pyairtable-demo", "ui,server")
