"""The SDK's dependency rule, checked on its source (issue 15).

    core (_errors, _clock, _config, _ids, _subscribable, _online, _background...)
      ← types ← transport ← auth ← services (and _status)
      ← the store (store, cache, optimistic, offline) ← realtime ← live
      ← the blocking facade (_sync, sync) ← _integration
      ← ui, web, testing, __init__

A module imports only from its own layer or those below; only ``ui``, ``web`` and ``__init__``
import ``_integration`` (the facade knows it as the ``SyncHost`` protocol); ``TYPE_CHECKING``
imports count like any other (no back-edges hidden there); no module imports another
subpackage's private module; there is no import cycle between layers; no client module is over
~400 lines.

``KNOWN`` lists what the redesign has not reached yet, each with its reason; the test fails
when one disappears (take it off the list) and when a new one appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pyairtable_integration"

CORE = {
    "_errors",
    "_clock",
    "_config",
    "_ids",
    "_metrics",
    "_subscribable",
    "_version",
    "_online",
    "_background",
}
LAYERS: list[set[str]] = [
    CORE,
    {"types"},
    {"transport"},
    {"auth"},
    {"services", "_status"},
    {"store", "cache", "optimistic", "offline"},  # the store
    {"realtime"},
    {"live"},
    {"_sync", "sync"},
    {"_integration", "_session_client"},
    {"ui", "web", "testing"},
    {"__init__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
MAY_IMPORT_INTEGRATION = {"ui", "web", "__init__"}

#: Edges the redesign has not removed yet: (importing file, imported unit) -> why.
KNOWN: dict[tuple[str, str], str] = {}
#: Modules over the size limit that are still to be split, with their size today (no growth).
LONG = {
    "offline/_outbox.py": 575,
    "services/records.py": 433,
    "offline/_store.py": 420,
}
LIMIT = 400


def _unit(parts: tuple[str, ...]) -> str:
    return "__init__" if parts == ("__init__",) else parts[0]


def _edges() -> list[tuple[str, str, str]]:
    """(importing file, imported unit, imported module path) for every relative import."""
    found: list[tuple[str, str, str]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        package = list(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = package[: len(package) - (node.level - 1)]
            module = node.module.split(".") if node.module else []
            targets = [base + module] if module else [[*base, alias.name] for alias in node.names]
            for target in targets:
                if target:
                    name = str(path.relative_to(PACKAGE))
                    found.append((name, target[0], ".".join(target)))
    return found


def test_every_import_points_down_the_layers() -> None:
    problems: set[tuple[str, str]] = set()
    for name, target, _module in _edges():
        mine = _unit(Path(name).with_suffix("").parts)
        if target == mine or target not in RANK:
            continue
        if RANK[target] > RANK[mine]:
            problems.add((name, target))
        if target == "_integration" and mine not in MAY_IMPORT_INTEGRATION:
            problems.add((name, target))
    assert problems - set(KNOWN) == set(), "new upward imports"
    assert set(KNOWN) - problems == set(), "fixed: take these off KNOWN"


def test_no_module_imports_another_subpackages_private_module() -> None:
    private = {
        (name, module)
        for name, target, module in _edges()
        if target != _unit(Path(name).with_suffix("").parts)
        and not target.startswith("_")
        and len(module.split(".")) > 1
        and module.split(".")[1].startswith("_")
    }
    assert private == set()


def test_the_layers_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for name, target, _module in _edges():
        mine = _unit(Path(name).with_suffix("").parts)
        if target != mine and target in RANK and (name, target) not in KNOWN:
            graph.setdefault(mine, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in graph.get(start, ()):
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    assert [unit for unit in graph if reaches(unit, unit, set())] == []


def test_no_client_module_is_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
        # Written by tools/generate_types.py and tools/generate_sync.py, never by hand.
        if not path.read_text(encoding="utf-8").startswith("# Generated by")
    }
    over = {name: size for name, size in sizes.items() if size > LIMIT}
    assert set(over) <= set(LONG), "new modules over the limit"
    grown = {name: size for name, size in over.items() if size > LONG[name]}
    assert grown == {}, "modules still to be split must not grow"
    assert {name for name in LONG if name not in over} == set(), "split: take off LONG"


def test_cache_keys_are_spelled_only_by_the_key_builder() -> None:
    """Issue 15 item 9: every cache key and prefix comes from ``store/_keys.py``."""
    prefixes = ("records:", "schema:", "tables:", "workspaces:", "user:")
    spelled = set()
    for path in PACKAGE.rglob("*.py"):
        name = str(path.relative_to(PACKAGE))
        if name == "store/_keys.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            parts = node.values if isinstance(node, ast.JoinedStr) else [node]
            first = parts[0] if parts else None
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value.startswith(prefixes)
            ):
                spelled.add((name, first.value))
    assert spelled == set()


def test_the_store_package_imports_only_what_lies_below_the_store() -> None:
    """``store/`` (the query-core analogue) never imports the integration, realtime, live, a UI,
    the web adapters, nor the presets built over it (``cache``, ``optimistic``, ``offline``)."""
    upward = {
        (name, target)
        for name, target, _module in _edges()
        if name.startswith("store/")
        and target != "store"
        and target in RANK
        and RANK[target] >= RANK["store"]
    }
    assert upward == set()
