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
