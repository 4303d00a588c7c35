"""The layout holds: the folder tree reads as the pipeline, and its rules are checked, not just written down.

- no import cycle between edgeclean's modules (lazy imports inside functions count too);
- stages/ never import storage, the CLI, the run orchestration or llama.cpp; store/ never imports stages/;
  model/ imports neither stages/, store/ nor the CLI; cli/ never reaches into stages/ or llama.cpp;
- no module over 400 lines, no function body over 60 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "edgeclean"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# For each folder (or module), the imports it must never make: edgeclean modules by prefix, or outside packages.
FORBIDDEN = {
    "edgeclean.stages": ("edgeclean.store", "edgeclean.cli", "edgeclean.model.llama", "edgeclean.api",
                         "edgeclean.plan", "edgeclean.jobs", "llama_cpp"),
    "edgeclean.store": ("edgeclean.stages", "edgeclean.model", "edgeclean.cli", "edgeclean.api", "edgeclean.plan",
                        "llama_cpp"),
    "edgeclean.model": ("edgeclean.stages", "edgeclean.store", "edgeclean.cli", "edgeclean.api", "edgeclean.plan"),
    "edgeclean.cli": ("edgeclean.stages", "edgeclean.model.llama", "llama_cpp"),
    "edgeclean.results": ("edgeclean.stages", "edgeclean.store", "edgeclean.model", "edgeclean.cli"),
    "edgeclean.paths": ("edgeclean.stages", "edgeclean.store", "edgeclean.model", "edgeclean.cli"),
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def imports(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in it, as absolute names (``from . import x`` resolved)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def _graph() -> dict[str, set[str]]:
    # A package's __init__ re-exports its modules; importing a name through it is not a dependency on all of them.
    return {module: {name for name in imports(module) if name in MODULES and name != "edgeclean"} for module in MODULES}


def test_there_is_no_import_cycle():
    graph, done, path = _graph(), set(), []

    def visit(module: str) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_layer_imports_only_what_it_may(module):
    rules = [banned for prefix, banned in FORBIDDEN.items() if module == prefix or module.startswith(prefix + ".")]
    wrong = sorted(
        name for name in imports(module) for banned in rules for prefix in banned
        if name == prefix or name.startswith(prefix + ".")
    )  # fmt: skip
    assert not wrong, f"{module} imports {', '.join(wrong)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    source = MODULES[module].read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{module} has {len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
            length = node.end_lineno - body[0].lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{module}.{node.name} has a {length}-line body"


def test_the_rules_catch_a_cycle_and_a_forbidden_import(tmp_path, monkeypatch):
    """The checks above can fail: two modules that import each other, and a stage that imports storage."""
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("from .a import y\nfrom ..store import checkpoint\n")
    fake = {"edgeclean.stages.a": tmp_path / "a.py", "edgeclean.stages.b": tmp_path / "b.py",
            "edgeclean.store.checkpoint": PACKAGE / "store" / "checkpoint.py"}  # fmt: skip
    monkeypatch.setattr(__import__(__name__, fromlist=["MODULES"]), "MODULES", fake)
    with pytest.raises(pytest.fail.Exception, match="import cycle: edgeclean.stages.a -> edgeclean.stages.b"):
        test_there_is_no_import_cycle()
    with pytest.raises(AssertionError, match="imports edgeclean.store"):
        test_each_layer_imports_only_what_it_may("edgeclean.stages.b")
