"""The emulator package has no import cycle: the server depends on the handlers and the
state, the handlers on the state, never the other way round (type-only imports count)."""

from __future__ import annotations

import ast
from pathlib import Path

import ddnsd.emulator

PACKAGE = Path(ddnsd.emulator.__file__).parent


def imports_within_the_package() -> dict[str, set[str]]:
    """module → the package's modules it imports anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "ddnsd.emulator":
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        prefix = "ddnsd.emulator."
        graph[path.stem] = {
            name.removeprefix(prefix).split(".")[0]
            for name in found
            if name.startswith(prefix) or (PACKAGE / f"{name}.py").exists()
        } - {path.stem}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules, or [] when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for imported in sorted(graph.get(module, ())):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return []

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return []


def test_cycle_finder() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_emulator_has_no_import_cycle() -> None:
    graph = imports_within_the_package()
    assert {"server", "state", "api", "resources"} <= set(graph)
    assert cycle(graph) == []
    assert "server" not in set().union(*(graph[m] for m in graph if m not in ("cli", "__main__")))
