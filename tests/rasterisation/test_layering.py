"""The engine, `algorithms` (analysis, pipeline, renderer), imports neither flask, sqlalchemy
nor minio (DESIGN.md section 2; the renderer and pipeline moved in from the web package): checked statically (every import statement, even inside functions) and
dynamically (what importing every module actually loads)."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = {"algorithms": ROOT / "algorithms"}
FORBIDDEN = ("flask", "flask_smorest", "flask_sqlalchemy", "flask_migrate", "flask_cors",
             "sqlalchemy", "alembic", "minio", "werkzeug")
# modules whose import would drag the service in through the package root
SERVICE_MODULES = ("rasterisation.app", "rasterisation.extensions", "rasterisation.models",
                   "rasterisation.storage", "rasterisation.services", "rasterisation.api",
                   "rasterisation.auth", "rasterisation.cli")


def python_files():
    for package, directory in PURE_PACKAGES.items():
        if directory.exists():
            yield from sorted(directory.rglob("*.py"))


def imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", list(python_files()),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_import_statement(path):
    bad = [name for name in imported_names(path)
           if name.split(".")[0] in FORBIDDEN or name.startswith(SERVICE_MODULES)]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_importing_every_pure_module_loads_no_service_library():
    code = """
import importlib, json, pkgutil, sys
loaded = []
for name in ("algorithms",):
    try:
        package = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            continue
        raise
    loaded.append(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
        loaded.append(info.name)
forbidden = %r
print(json.dumps({"loaded": loaded, "leaked": sorted(
    m for m in sys.modules if m.split(".")[0] in forbidden)}))
""" % (FORBIDDEN,)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "algorithms" in report["loaded"]
    assert report["leaked"] == [], f"pure modules loaded {report['leaked']}"


def test_the_checker_catches_a_violation(tmp_path):
    """The static check is not vacuous."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import flask\n    from sqlalchemy.orm import Session\n")
    assert imported_names(bad) == ["flask", "sqlalchemy.orm"]


def engine_import_graph() -> dict[str, set[str]]:
    """module -> the engine modules it imports (every import statement, even inside functions
    or under ``TYPE_CHECKING``; ``from package import module`` counts as the module)."""
    modules = {}
    for path in python_files():
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                edges |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                          for a in node.names}
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_engine_has_no_import_cycle():
    graph = engine_import_graph()
    assert "algorithms.plugins" in graph["algorithms.registry"]  # the walk sees lazy imports
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_services_raise_domain_errors_not_http_aborts():
    """Only the API layer speaks HTTP: a service raises rasterisation.errors.ServiceError
    (or a domain error of its own), which the app maps to the JSON error shape."""
    offenders = []
    for path in sorted((ROOT / "rasterisation" / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("flask_smorest", "flask"):
                if any(alias.name == "abort" for alias in node.names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"abort() in services: {offenders}"


def test_engine_modules_stay_small():
    """One job a module (issue 11): no engine module over 400 lines."""
    big = {str(p.relative_to(ROOT)): n for p in python_files()
           if (n := len(p.read_text().splitlines())) > 400}
    assert not big, big
