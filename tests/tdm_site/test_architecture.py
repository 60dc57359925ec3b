"""The layout holds what docs/architecture.md promises: no import cycle between modules, no
module too long to read, and the clinical records app not swallowing the others again.

import-linter (run by `make test`) keeps the layers between the apps; this test looks at single
modules. Only imports a module makes when it loads count: one inside a function (a service
queueing its own task) runs later, once every module is loaded, and cannot be a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("advice", "cases", "notifications", "reports", "study", "tdm_site")
LONGEST_MODULE_LINES = 700
CASES_MOST_SHARE = 0.40


def application_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def load_time_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports at load time (its body, not its functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).parent.parts)
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        found.add(submodule)
                    elif base in modules:
                        found.add(base)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself
    (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                connect(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph[module]:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return cycles


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(import_cycles(graph)) == [["a", "b", "c"], ["e"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    modules = application_modules()
    graph = {name: load_time_imports(path, modules) for name, path in modules.items()}
    assert len(graph) > 100
    assert graph["advice.receivers"] >= {"cases.signals", "advice.services"}
    assert import_cycles(graph) == []


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_application_module_is_longer_than_it_can_be_read():
    too_long = {
        name: _lines(path)
        for name, path in application_modules().items()
        if _lines(path) > LONGEST_MODULE_LINES
    }
    assert too_long == {}


def test_the_clinical_records_app_holds_less_than_two_fifths_of_the_code():
    lines = {name: _lines(path) for name, path in application_modules().items()}
    in_cases = sum(count for name, count in lines.items() if name.split(".")[0] == "cases")
    assert in_cases / sum(lines.values()) < CASES_MOST_SHARE
