"""IPP changes no recorded job's state itself, and ends a Create-Job still waiting for its
document in one place: read from the code, so a new handler cannot slip past."""
from __future__ import annotations

import ast
from pathlib import Path

IPP = Path(__file__).resolve().parents[3] / "spooler" / "ipp"


def ipp_trees():
    for path in sorted(IPP.glob("*.py")):
        yield path.name, ast.parse(path.read_text(), filename=str(path))


def enclosing_functions(tree):
    """node -> name of the innermost function around it."""
    owners = {}
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                owners[node] = function.name  # inner functions are walked later and win
    return owners


def test_no_ipp_code_asks_accounting_to_change_a_job_state():
    calls = [(name, node.lineno) for name, tree in ipp_trees() for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr in ("change_job_state", "change_state")]
    assert calls == []


def test_recorded_jobs_end_only_through_the_job_desk():
    ends = {(name, node.func.value.attr) for name, tree in ipp_trees() for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "end_job"
            and isinstance(node.func.value, ast.Attribute)}
    assert ends == {("operations.py", "jobs")}


def test_a_waiting_create_job_changes_state_only_in_end_pending():
    assigned = []
    for name, tree in ipp_trees():
        owners = enclosing_functions(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and target.attr == "state":
                        assigned.append((name, owners.get(node)))
    assert assigned == [("operations.py", "_end_pending")]
