"""The shape of chalicelib's imports: no cycles, and no Chalice below the HTTP edge.

Read from the source with ``ast`` (nothing is imported), so an import inside a
function counts as much as one at the top; only ``if TYPE_CHECKING:`` blocks, which
never run, are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imported_names(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every module this source imports when it runs, at the top or inside functions."""
    tree = ast.parse(source)
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        imported = imported_names(path.read_text(), name, path.name == "__init__.py")
        targets = {target for target in imported if target in known}
        # ``from pkg import submodule`` names both; the package itself is an edge only when named alone.
        graph[name] = {t for t in targets if not any(other.startswith(t + ".") for other in targets)} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                cycle = walk(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def test_chalicelib_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_imports_inside_functions() -> None:
    # GIVEN two modules that import each other, one of them only inside a function
    graph = {"a": {"b"}, "b": {"a"}, "c": set()}
    # THEN the check reports it
    assert find_cycle(graph) == ["a", "b", "a"]
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\ndef f():\n    from .deps import get_deps\n"
    )
    assert "chalicelib.deps" in imported_names(source, "chalicelib.probe")
    assert "x" not in imported_names(source, "chalicelib.probe")


BELOW_THE_EDGE = ("chalicelib.domain", "chalicelib.services", "chalicelib.store", "chalicelib.purge")


def reaches_chalice(graph: dict[str, set[str]]) -> list[str]:
    """Modules below the edge that import Chalice, directly or through any module they import."""
    known = modules()
    imports_chalice = {
        name
        for name, path in known.items()
        if any(
            target == "chalice" or target.startswith("chalice.")
            for target in imported_names(path.read_text(), name, path.name == "__init__.py")
        )
    }
    offenders: list[str] = []
    for start in sorted(name for name in graph if name.startswith(BELOW_THE_EDGE)):
        seen, pending = {start}, [start]
        while pending:
            for target in graph[pending.pop()] - seen:
                seen.add(target)
                pending.append(target)
        offenders.extend(f"{start} reaches {name}, which imports chalice" for name in sorted(seen & imports_chalice))
    return offenders


def test_domain_services_and_store_know_nothing_of_chalice() -> None:
    # Every module they reach counts: a service importing chalicelib.errors would bring Chalice in.
    assert reaches_chalice(import_graph()) == []
    # The check itself sees a direct import, and one reached through another module.
    assert "chalice.app" in imported_names("from chalice.app import Response\n", "chalicelib.errors")


# The HTTP edge maps a storage error to 503/500 (chalicelib.errors' one place for mapping).
PYNAMODB_ALLOWED_OUTSIDE_THE_STORE = {"chalicelib.http"}


def pynamodb_outside_the_store() -> list[str]:
    """Modules outside chalicelib/store (and the edge's error mapping) that import PynamoDB."""
    return sorted(
        name
        for name, path in modules().items()
        if not name.startswith("chalicelib.store")
        and name not in PYNAMODB_ALLOWED_OUTSIDE_THE_STORE
        and any(
            target == "pynamodb" or target.startswith("pynamodb.")
            for target in imported_names(path.read_text(), name, path.name == "__init__.py")
        )
    )


def test_only_the_store_touches_pynamodb() -> None:
    """Repositories in chalicelib/store are the only code that reads or writes DynamoDB tables."""
    assert pynamodb_outside_the_store() == []
