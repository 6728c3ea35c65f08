"""The worlds package imports without circles: every import between its modules (those under TYPE_CHECKING and
inside functions too) points one way."""

import ast
from pathlib import Path

import pytest

import icft.worlds

PACKAGE = "icft.worlds"
ROOT = Path(icft.worlds.__file__).parent


def module_name(path: Path, root: Path, package: str) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((package, *parts))


def imported_modules(path: Path, name: str, modules: set[str]) -> set[str]:
    """The modules of `modules` that `path` imports. `from a import b` is an import of a.b when that is a module
    and of a otherwise; importing a.b.c is not counted as importing a.b's __init__ (Python runs it first, but a
    package's __init__ that re-exports its parts would otherwise close a circle with each of them)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports."""
    names = {path: module_name(path, root, package) for path in sorted(root.rglob("*.py"))}
    modules = set(names.values())
    return {name: imported_modules(path, name, modules) for path, name in names.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    done, path = set(), []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            if circle := visit(target):
                return circle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        if circle := visit(node):
            return circle
    return None


def test_the_worlds_package_has_no_import_circle():
    graph = import_graph()
    assert "icft.worlds.semantic.structure" in graph and "icft.worlds.process.rewrite" in graph  # the walk sees them
    assert "icft.worlds.semantic.structure" in graph["icft.worlds.semantic.docs"]
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)


@pytest.mark.parametrize("graph, circle", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": set(), "c": {"a", "b"}}, None),
])
def test_the_circle_finder_finds_circles_and_only_those(graph, circle):
    assert find_circle(graph) == circle


def test_an_import_under_type_checking_counts(tmp_path):
    """The circle the semantic world had: its parts imported the generator's types under TYPE_CHECKING."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "world.py").write_text("from pkg.docs import plan\nclass Sizes: ...\n")
    (package / "docs.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                     "    from pkg.world import Sizes\n")
    assert find_circle(import_graph(package, "pkg")) == ["pkg.docs", "pkg.world", "pkg.docs"]
