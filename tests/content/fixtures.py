"""The good content fixture, and broken variants made by small edits to it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
GOOD = HERE / "good"
BROKEN = HERE / "broken"
REPEAT = re.compile(r"\{\{(.)\*(\d+)\}\}")


def copy_good(tmp_path: Path) -> Path:
    """A writable copy of the good fixture at tmp_path/content (so paths read content/<lang>/)."""
    target = tmp_path / "content"
    shutil.copytree(GOOD, target)
    return target


def apply_edits(content_dir: Path, edits: list[dict[str, Any]]) -> None:
    """Apply a broken fixture's edits; each must change something, or the fixture is stale."""
    for edit in edits:
        pattern: str = edit["file"]
        if "create" in edit:
            path = content_dir / pattern
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(edit["create"], encoding="utf-8")
            continue
        paths = sorted(content_dir.glob(pattern))
        assert paths, f"edit names no file: {pattern}"
        changed = False
        for path in paths:
            if edit.get("delete"):
                path.unlink()
                changed = True
                continue
            text = path.read_text(encoding="utf-8")
            new = text.replace(
                edit["replace"], REPEAT.sub(lambda m: m[1] * int(m[2]), edit["with"])
            )
            changed |= new != text
            path.write_text(new, encoding="utf-8")
        assert changed, f"edit changed nothing in {pattern}: {edit}"


def broken_cases() -> list[tuple[str, dict[str, Any]]]:
    return [
        (p.stem, yaml.safe_load(p.read_text(encoding="utf-8")))
        for p in sorted(BROKEN.glob("*.yaml"))
    ]
