"""The package's shape: no import cycles between modules or between the sub-packages of
benchmark/ (lazy, in-function imports included), and every module findable by its name."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("benchmark", "baselines", "metrics")


def _modules() -> dict[str, Path]:
    """Dotted name (as laid out on disk: benchmark.runs.store) -> file; a package is its
    __init__.py."""
    out = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of this project it imports."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("collapsebench."):
                target = node.module.removeprefix("collapsebench.")
            else:
                continue
            for alias in node.names:  # "from . import x" names a module
                full = f"{target}.{alias.name}"
                found = full if full in modules else _resolve(target, modules)
                if found and found != name:
                    deps.add(found)
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep in graph and dep not in state and (found := visit(dep, [*path, dep])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def _subpackages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """benchmark.<sub> -> the other benchmark sub-packages it imports."""

    def sub(m: str) -> str | None:
        parts = m.split(".")
        return ".".join(parts[:2]) if parts[0] == "benchmark" and len(parts) > 2 else None

    out: dict[str, set[str]] = {}
    for m, deps in graph.items():
        if (s := sub(m)) is not None:
            out.setdefault(s, set()).update(d for d in map(sub, deps) if d and d != s)
    return out


def test_the_cycle_finder_finds_a_hand_built_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_the_graph_sees_relative_absolute_and_lazy_imports():
    graph = _graph()
    assert "benchmark.store.rundir" in graph["benchmark.training.loop"]  # from ..store.rundir
    assert "baselines.base" in graph["benchmark.training.loop"]  # from ...baselines.base
    assert "benchmark.training.loop" in graph["benchmark.runs.jobs"]


def test_no_import_cycles_between_modules():
    assert _cycle(_graph()) is None


def test_no_import_cycles_between_subpackages():
    """The layout is the data flow: store, suites, training, runs, analysis, report, cli; each
    imports only those before it."""
    assert _cycle(_subpackages(_graph())) is None
