"""The package's layout (docs/layout.md): data moves one way, so no module imports, at any depth
(inside functions and under `TYPE_CHECKING` included), a module that imports it back."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "wideDIP"


def module_name(path: Path) -> str:
    """`wideDIP._config` for wideDIP/_config.py, `wideDIP.x` for wideDIP/x/__init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports anywhere in its text (relative imports resolved;
    `from . import x` counted as the module `x` where it is one)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source = node.module if node.level == 0 else ".".join(filter(None, (base, node.module)))
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {module for module in found if module in modules} - {name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a list of modules."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


CORE_CYCLE = {
    f"wideDIP.{name}" for name in ("_config", "_model", "_networks", "_ntk", "_operators", "_problem", "_theory")
}
"""The one cycle left: the configuration, the operators, the problem draw, the networks and the theory
still take a `Config` and ask each other about it. It goes when `Config` stops at resolution; until
then no other module may join it and no other cycle may form."""


def test_the_graph_sees_imports_at_every_depth():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "wideDIP._plots" in graph["wideDIP._result"]  # imported inside a method
    assert "wideDIP._config" in graph["wideDIP._operators"]  # imported under TYPE_CHECKING only


def test_no_module_imports_one_that_imports_it_back_but_the_cores_known_cycle():
    found = cycles(import_graph())
    assert all(set(group) <= CORE_CYCLE for group in found), found
    assert len(found) <= 1
