"""The package's layout (docs/layout.md): data moves one way, so no module imports, at any depth
(inside functions and under `TYPE_CHECKING` included), a module that imports it back."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "wideDIP"


def module_name(path: Path) -> str:
    """`wideDIP._config` for wideDIP/_config.py, `wideDIP.x` for wideDIP/x/__init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str], source: str | None = None) -> set[str]:
    """The package's modules that `path` (or `source`, read as the text of `path`) imports anywhere in
    its text (relative imports resolved; `from . import x` counted as the module `x` where it is one)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source_module = node.module if node.level == 0 else ".".join(filter(None, (base, node.module)))
            found.add(source_module)
            found.update(f"{source_module}.{alias.name}" for alias in node.names)
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


STAGES = (
    ("_runtime",),
    ("_operators",),
    ("_signals",),
    ("_problems",),
    ("_networks",),
    ("_dynamics",),
    ("_integrate",),
    ("_analysis",),
    ("_config", "_presets"),
    ("_resolve",),
    ("_figures",),
    ("_results",),
    ("_experiments",),
    ("_cli", "__main__"),
)
"""docs/layout.md: the order in which the parts of the package may import each other (a module
imports from its own stage or an earlier one); the package's `__init__` re-exports from all."""
ENGINE = ("_operators", "_signals", "_problems", "_networks", "_dynamics", "_integrate", "_analysis")
"""The stages below the resolution step: they work on components, never on a `Config`."""


def stage_of(module: str) -> int:
    part = module.split(".")[1]
    return next(index for index, names in enumerate(STAGES) if part in names)


def test_the_graph_sees_imports_at_every_depth():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._x import y\ndef f():\n    from ._z import w\n"
    )
    found = imported_modules(PACKAGE / "_hidden.py", {"wideDIP._x", "wideDIP._z", "wideDIP._q"}, source)
    assert found == {"wideDIP._x", "wideDIP._z"}  # under TYPE_CHECKING, inside a function


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


def test_each_stage_imports_only_from_itself_and_earlier_stages():
    for module, imported in import_graph().items():
        if module != "wideDIP":
            later = sorted(other for other in imported if stage_of(other) > stage_of(module))
            assert not later, f"{module} imports from later stages: {later}"


def test_no_module_below_resolution_reads_a_config():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] not in ENGINE:
            continue
        tree = ast.parse(path.read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        annotations = {
            ast.unparse(node.annotation)
            for node in ast.walk(tree)
            if isinstance(node, ast.arg) and node.annotation is not None
        }
        assert "Config" not in names and not any("Config" in a for a in annotations), path


def test_the_dynamics_is_named_by_a_string_only_at_resolution():
    """`config.method == "..."` nowhere but in the resolution step: the rest asks the dynamics
    (`is_discrete`, `resolve_dynamics`), so that a new dynamics needs no edit elsewhere."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_resolve.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = any(isinstance(side, ast.Attribute) and side.attr == "method" for side in sides)
                strings = any(isinstance(side, ast.Constant) and isinstance(side.value, str) for side in sides)
                assert not (named and strings), f"{path.name}: {ast.unparse(node)}"
