"""The package graph: imports point downward only, with no cycle (docs/architecture.md draws it).

Every .py file of the repository's packages is parsed (ast, nothing is imported); each import,
also one inside a function, is an edge from the importing package to the imported one.
`webcare.core` is its own node: the leaf that every package may use and that uses none of them.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ("webcare.core", "store", "nlu", "bot", "listeners", "console", "webcare")
SUPPORT = ("emulators", "bench", "tests")
NAMESPACED = {"core", "store", "nlu", "bot", "listeners", "console"}

# What each package may import besides itself: the layers of docs/architecture.md.
ALLOWED: dict[str, set[str]] = {
    "webcare.core": set(),
    "store": {"webcare.core"},
    "nlu": {"webcare.core"},
    "bot": {"webcare.core", "store", "nlu"},
    "listeners": {"webcare.core", "store", "nlu"},
    "console": {"webcare.core", "store", "nlu"},
    "webcare": {"webcare.core", "store", "nlu", "bot", "listeners", "console"},  # the composition root
    "emulators": set(RUNTIME),  # test support shared by tests/ and bench/
    "bench": {*RUNTIME, "emulators"},  # never tests/
    "tests": {*RUNTIME, "emulators"},
}
# Edges that break the layers today, each with its reason; an entry no import needs any more fails too.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("console", "bot"): "the web app mounts the web chat's routes (bot/channels/webchat) and renders the "
                        "story-so-far with bot.handoff until the store keeps it with the ticket",
    ("console", "listeners"): "the ambassadors page ranks with listeners.ambassadors, the one definition "
                              "(a pure function over store rows) that the CLI uses too",
}


def package_of(module: str) -> str | None:
    """The graph node a dotted module name belongs to (None for the standard library and third parties)."""
    parts = module.split(".")
    if parts[0] == "webcare" and len(parts) > 1 and parts[1] in NAMESPACED:  # also after the move under webcare.
        return "webcare.core" if parts[1] == "core" else parts[1]
    return parts[0] if parts[0] in RUNTIME + SUPPORT else None


def imported_modules(path: Path, root: Path) -> Iterator[str]:
    """Every module `path` imports, relative imports resolved against its own package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    package = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)  # `from webcare import core`


def edges(root: Path) -> dict[tuple[str, str], set[str]]:
    """(importing package, imported package) -> the files with such an import."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0].startswith(".") or relative.parts[0] in {"build", "dist"}:
            continue
        source = package_of(".".join(relative.with_suffix("").parts))
        if source is None:
            continue
        for module in imported_modules(path, root):
            target = package_of(module)
            if target is not None and target != source:
                found.setdefault((source, target), set()).add(str(relative))
    return found


def violations(found: dict[tuple[str, str], set[str]]) -> list[str]:
    """Each import that points upward or sideways without a listed reason, as a readable line."""
    return [f"{s} imports {t} (in {', '.join(sorted(files))})" for (s, t), files in sorted(found.items())
            if t not in ALLOWED[s] and (s, t) not in EXCEPTIONS]


def cycle(found: dict[tuple[str, str], set[str]]) -> list[str] | None:
    """A cycle between runtime packages (their names around it), or None."""
    graph: dict[str, set[str]] = {p: set() for p in RUNTIME}
    for source, target in found:
        if source in RUNTIME and target in RUNTIME:
            graph[source].add(target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        return list(e.args[1])
    return None


@pytest.fixture(scope="module")
def repository() -> dict[tuple[str, str], set[str]]:
    return edges(ROOT)


def test_every_import_points_downward(repository):
    assert violations(repository) == []


def test_no_cycle_between_packages(repository):
    assert cycle(repository) is None


def test_the_leaf_imports_nothing_of_webcare(repository):
    assert [edge for edge in repository if edge[0] == "webcare.core"] == []


def test_bench_does_not_import_tests(repository):
    assert ("bench", "tests") not in repository
    assert [edge for edge in repository if edge[1] in {"tests", "bench"} and edge[0] != "tests"] == []


def test_every_listed_exception_is_still_needed(repository):
    assert [edge for edge in EXCEPTIONS if edge not in repository] == []


def test_the_checks_catch_an_upward_import_a_cycle_and_bench_importing_tests(tmp_path):
    files = {
        "webcare/core/errors.py": "from webcare import cli\n",  # the leaf reaching up
        "webcare/cli.py": "from store import Store\n",
        "store/__init__.py": "def f():\n    from ..bot import engine\n",  # relative, inside a function
        "bot/engine.py": "import store\n",
        "bench/b.py": "from tests.test_x import helper\n",
        "webcare/nlu/x.py": "from webcare.listeners import triage\n",  # the layout under one namespace
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = edges(tmp_path)
    assert violations(found) == [
        "bench imports tests (in bench/b.py)",
        "nlu imports listeners (in webcare/nlu/x.py)",
        "store imports bot (in store/__init__.py)",
        "webcare.core imports webcare (in webcare/core/errors.py)",
    ]
    assert set(cycle(found) or []) == {"store", "bot"}
