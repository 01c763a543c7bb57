"""The house rules that keep the code findable: one-way imports, no Qt in the library, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only; nothing is imported then)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", getattr(child.test, "attr", "")) == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def module_imports() -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module of ``colorizer`` and ``app`` (top-level and
    function-level imports alike; type-checking-only imports excluded)."""
    graph: dict[str, set[str]] = {}
    for package in ("colorizer", "app"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            found: set[str] = set()
            for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                    found.update(f"{node.module}.{a.name}" for a in node.names)
            graph[name] = found
    # importing ``a.b.c`` runs ``a.b``'s ``__init__`` first: an implicit edge that can close a cycle
    for imports in graph.values():
        imports.update({".".join(i.split(".")[:n]) for i in list(imports) for n in range(2, i.count(".") + 1)})
    return {m: {i for i in imports if i in graph and i != m} for m, imports in graph.items()}


def test_library_never_imports_qt_or_the_app() -> None:
    for path in (REPO / "colorizer").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "PySide6" not in text and "from app" not in text and "import app" not in text, path


def test_no_import_cycles() -> None:
    graph = module_imports()
    # a package's __init__ re-exports its modules; a cycle through it is only a cycle between the modules
    edges = {m: {i for i in imports if not m.startswith(i + ".")} for m, imports in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_one_hint_class_and_no_old_modules() -> None:
    names = [p for p in (REPO / "app").glob("*.py") if "class Hint" in p.read_text(encoding="utf-8")]
    assert names == []
    for gone in ("app/editing.py", "app/energy_bridge.py", "app/edit_actions.py", "app/tour.py", "app/measure.py",
                 "colorizer/energy.py"):
        assert not (REPO / gone).exists(), gone
