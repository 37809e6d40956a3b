"""The shape the code keeps: short functions (a longer one says why), command modules and
modules of a size a reader takes in."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ioc"
MAX_FUNCTION_LINES = 80
WHY_LONG = "Long on purpose"  # the docstring of a longer function says why, after these words
MAX_COMMAND_MODULE_LINES = 450
MAX_MODULE_LINES = 600


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_no_function_runs_over_80_lines_without_saying_why() -> None:
    unexplained = [
        f"{path.relative_to(PACKAGE.parent)}:{function.lineno} {function.name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for function in _functions(path)
        if function.end_lineno is not None
        and function.end_lineno - function.lineno + 1 > MAX_FUNCTION_LINES
        and WHY_LONG not in (ast.get_docstring(function) or "")
    ]
    assert unexplained == []


def test_modules_stay_readable() -> None:
    def lines(path: Path) -> int:
        return len(path.read_text(encoding="utf-8").splitlines())

    commands = {p.name: lines(p) for p in (PACKAGE / "cli").glob("*.py")}
    assert {n: c for n, c in commands.items() if c > MAX_COMMAND_MODULE_LINES} == {}
    modules = {str(p.relative_to(PACKAGE)): lines(p) for p in PACKAGE.rglob("*.py")}
    assert {n: c for n, c in modules.items() if c > MAX_MODULE_LINES} == {}
