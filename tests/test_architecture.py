"""The core knows no channel: nothing in app/ imports telegram or bot/ (the CLI, which composes
the processes, is the one exception)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_app_core_imports_neither_telegram_nor_bot() -> None:
    offenders = {
        str(path.relative_to(APP)): sorted(imported_modules(path) & {"telegram", "bot"})
        for path in APP.rglob("*.py")
        if path.name != "cli.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
