"""The layers hold: the import contracts in pyproject.toml are kept and no module takes part in an import cycle.

Runs in ``make test`` (so in CI) as well as ``make lint``: a future back-arrow, such as a domain importing the
CLI or the kernel importing a domain, fails here with import-linter's report of the offending import chain.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shopml", "features", "training", "optimization", "experiments", "monitoring", "serving", "cli")


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Groups of modules that import each other (directly or through others), by Tarjan's algorithm."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules)))
    for module in modules:
        if module not in index:
            visit(module)
    return groups


def test_strongly_connected_finds_a_cycle():
    """The cycle finder itself: a three-module ring is one group, a chain is none."""
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert strongly_connected(graph) == [["p.a", "p.b", "p.c"]]


def test_no_import_cycles():
    """Deferred imports inside functions and TYPE_CHECKING imports count too: a cycle is a cycle."""
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, exclude_type_checking_imports=False)
    assert strongly_connected(graph) == []
