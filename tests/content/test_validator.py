from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from app.content.validator import check_directory
from tests.content.fixtures import GOOD, apply_edits, broken_cases, copy_good

TODAY = dt.date(2026, 11, 25)


def test_good_fixture_has_no_problem() -> None:
    report = check_directory(GOOD, today=TODAY)
    assert [p.format() for p in report.problems] == []
    assert report.bundle is not None
    assert set(report.bundle["languages"]) == {"ky", "ru", "en"}


@pytest.mark.parametrize(("name", "case"), broken_cases(), ids=[n for n, _ in broken_cases()])
def test_broken_fixture_reports_its_error(tmp_path: Path, name: str, case: dict[str, Any]) -> None:
    content = copy_good(tmp_path)
    apply_edits(content, case["edits"])
    report = check_directory(content, today=TODAY)
    assert sorted(p.format() for p in report.errors) == sorted(case["expect"]), case["description"]
    assert sorted(p.format() for p in report.warnings) == sorted(case.get("expect_warnings", []))
    assert (report.bundle is None) == bool(case["expect"])


def test_every_error_code_has_a_broken_fixture() -> None:
    found = re.compile(r" (?:error|warning) \[(\w+)\] ")
    codes = {
        match[1]
        for _, case in broken_cases()
        for line in case["expect"] + case.get("expect_warnings", [])
        if (match := found.search(line))
    }
    assert codes >= {
        "yaml_syntax",
        "schema",
        "duplicate_id",
        "duplicate_key",
        "dangling_reference",
        "unreachable_node",
        "cycle_without_exit",
        "structure_mismatch",
        "missing_translation",
        "untranslated",
        "fallback_missing",
        "unsourced",
        "not_reviewed",
        "stale_review",
        "text_too_long",
        "label_too_long",
        "quiz_bands",
        "missing_file",
        "file_name",
        "unverified_filled",
        "wrong_language",
        "unknown_file",
    }


def test_missing_language_directory(tmp_path: Path) -> None:
    content = copy_good(tmp_path)
    for path in sorted((content / "ky").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (content / "ky").rmdir()
    report = check_directory(content, today=TODAY)
    codes = {p.code for p in report.errors}
    assert "missing_language" in codes
    assert report.bundle is None


def test_the_shipped_content_is_valid() -> None:
    report = check_directory(Path(__file__).resolve().parents[2] / "content")
    assert [p.format() for p in report.errors] == []
