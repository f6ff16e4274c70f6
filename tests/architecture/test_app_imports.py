"""The apps depend on each other one way (no import cycle between apps, including imports inside
functions), Argo sits behind one client module that knows nothing of Django models, and each
shared rule has one home. Read from the source with ast: nothing is imported to check it."""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from itertools import pairwise
from pathlib import Path

from ydpipelines.dag import find_cycle

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (top level, functions, TYPE_CHECKING)."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _app(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "apps" else None


def app_graph() -> dict[str, dict[str, set[str]]]:
    """{app: {app it imports: the files that do}}."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in _sources(APPS):
        source = _app(_module_of(path))
        graph[source]  # every app is a node, even one that imports no other
        for module in imported_modules(path):
            target = _app(module)
            if target and target != source:
                graph[source][target].add(str(path.relative_to(ROOT)))
    return graph


def test_no_import_cycle_between_apps():
    graph = app_graph()
    # find_cycle reads {node: what it waits for}: an app waits for the apps it imports.
    cycle = find_cycle({app: set(targets) for app, targets in graph.items()})[::-1]
    where = [f"{a} imports {b}: {', '.join(sorted(graph[a][b]))}" for a, b in pairwise(cycle)]
    assert not cycle, "import cycle between apps: " + " -> ".join(cycle) + "\n" + "\n".join(where)


LAYERS = [
    "orchestration",
    "projects",
    "pipelines",
    "experiments",
    "runs",
    "recurring",
    "compare",
    "experiment_archive",
    "notifications",
]


def test_the_layers_read_bottom_to_top():
    """orchestration (the Argo client) <- pipelines <- experiments <- runs <- recurring, compare
    <- experiment_archive (an experiment with its runs and recurring runs): an app of LAYERS
    imports only apps below it, with no exception. An app not in LAYERS (a second face such as
    an API) sits on top: it may use any of them, none uses it."""
    graph = app_graph()
    for app, targets in graph.items():
        for target in targets:
            if app not in LAYERS:
                continue
            assert target in LAYERS, f"{app} imports {target}, which is above every layer"
            assert LAYERS.index(target) < LAYERS.index(app), f"{app} imports {target}"


def test_the_orchestration_app_is_the_bottom_layer():
    """apps.orchestration is the Argo client (argo.py) and the queue helper: every app may use
    it, so it uses no other app."""
    assert dict(app_graph()["orchestration"]) == {}


def test_the_argo_client_knows_nothing_of_django_models():
    imported = imported_modules(APPS / "orchestration" / "argo.py")
    assert not {m for m in imported if m.startswith(("apps.", "django.db"))}, imported


def _definitions(name: str) -> list[str]:
    return [place for place, defined in _all_definitions() if defined == name]


@cache
def _all_definitions() -> list[tuple[str, str]]:
    found = []
    for folder in (APPS, ROOT / "ydpipelines"):
        for path in _sources(folder):
            for node in ast.walk(_tree(path)):
                if isinstance(node, ast.ClassDef | ast.FunctionDef):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.name))
    return found


def test_each_shared_rule_has_one_home():
    for name in (
        "HtmxHttpRequest",  # ydpipelines/htmx.py
        "argo_value",  # parameter types: apps/pipelines/parameters.py
        "typed_value",
        "parse_bool",
        "depends_names",  # depends: ydpipelines/localargo/expressions.py
        "task_dependencies",
        "find_cycle",  # cycles: ydpipelines/dag.py (graphlib)
    ):
        assert len(_definitions(name)) == 1, (name, _definitions(name))
