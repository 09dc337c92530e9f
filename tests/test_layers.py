"""The import direction of DESIGN.md, checked on every module's syntax tree (imports inside
functions included): ``gateway`` -> ``release_api`` -> ``spooler`` -> ``accounting``;
``accounting`` may import only ``spooler.pdl``'s facts and errors; ``panel_menus`` imports
nothing of ours; every package may import ``printgate_errors``."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: package -> the packages of ours it may import (besides itself and printgate_errors)
ALLOWED = {
    "gateway": {"release_api", "spooler", "accounting", "panel_menus"},
    "release_api": {"spooler", "accounting", "panel_menus"},
    "spooler": {"accounting"},
    "accounting": set(),
    "panel_menus": set(),
}
#: the only modules of spooler that accounting may import
ACCOUNTING_MAY_IMPORT = {"spooler.pdl.facts", "spooler.pdl.errors"}
OURS = set(ALLOWED) | {"printgate_errors"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def upward_imports():
    found = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            for line, module in imported_modules(path):
                top = module.split(".")[0]
                if top not in OURS or top in (package, "printgate_errors"):
                    continue
                if package == "accounting" and module in ACCOUNTING_MAY_IMPORT:
                    continue
                if top not in allowed:
                    found.append((relative, module, line))
    return found


def test_every_import_runs_downward():
    assert upward_imports() == []


def test_an_upward_import_is_found(tmp_path, monkeypatch):
    package = tmp_path / "spooler"
    package.mkdir()
    (package / "m.py").write_text("from release_api.server import listen_release_api\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert upward_imports() == [("spooler/m.py", "release_api.server", 1)]


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from gateway.process import Gateway\n")
    assert (2, "gateway.process") in list(imported_modules(module))


MODULE_REASON = "# Imports inside functions:"


def imports_inside_functions(path: Path):
    """(line, module) of every import of our own packages made inside a function, unless
    a comment says why: on that line, on the line above, or once for the whole module
    (a line starting with ``# Imports inside functions:``)."""
    text = path.read_text()
    if any(line.startswith(MODULE_REASON) for line in text.splitlines()):
        return []
    lines = text.splitlines()
    found = []
    for function in ast.walk(ast.parse(text, filename=str(path))):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            for module in modules:
                said = "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#")
                if module.split(".")[0] in OURS and not said:
                    found.append((node.lineno, module))
    return sorted(set(found))


def test_imports_of_our_own_inside_functions_say_why():
    unexplained = [(str(path.relative_to(ROOT)), line, module)
                   for package in ALLOWED for path in sorted((ROOT / package).rglob("*.py"))
                   for line, module in imports_inside_functions(path)]
    assert unexplained == []


def test_an_unexplained_import_inside_a_function_is_found(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    x = 1\n    from accounting.jobs import JobStore\n")
    assert imports_inside_functions(module) == [(3, "accounting.jobs")]
    module.write_text("def f():\n    # cycle: jobs imports this module\n    from accounting.jobs import JobStore\n")
    assert imports_inside_functions(module) == []
