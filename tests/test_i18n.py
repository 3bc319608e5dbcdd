"""UI string catalogs: complete, not fuzzy, in step with the code; Babel formats per locale."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.i18n import LOCALES_DIR, strings

ROOT = Path(__file__).resolve().parents[1]


def catalog(lang: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return read_po(fp, locale=lang)


def extracted(tmp_path: Path) -> set[object]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "--no-location",
            "-k",
            "_",
            "-k",
            "plural:1,2",
            "-o",
            str(pot),
            "app",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fp:
        return {m.id for m in read_po(fp) if m.id}


@pytest.mark.parametrize("lang", ["ky", "ru", "en"])
def test_catalog_is_complete_and_not_fuzzy(lang: str, tmp_path: Path) -> None:
    cat = catalog(lang)
    messages = [m for m in cat if m.id]
    missing = [
        m.id
        for m in messages
        if not m.string or (isinstance(m.string, tuple) and not all(m.string))
    ]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert missing == [] and fuzzy == []
    assert {m.id for m in messages} == extracted(tmp_path), "run `make i18n-update`"


def test_placeholders_survive_translation() -> None:
    for lang in ("ky", "ru"):
        for m in catalog(lang):
            if m.id and isinstance(m.id, str) and "{" in m.id:
                names = {p.split("}")[0] for p in m.id.split("{")[1:]}
                assert all("{" + n + "}" in m.string for n in names), (lang, m.id)


def test_plurals_follow_each_language() -> None:
    assert [strings("ru").plural("{n} contact", "{n} contacts", n) for n in (1, 3, 5, 21)] == [
        "1 контакт",
        "3 контакта",
        "5 контактов",
        "21 контакт",
    ]
    assert [strings("en").plural("{n} contact", "{n} contacts", n) for n in (1, 2)] == [
        "1 contact",
        "2 contacts",
    ]
    assert strings("ky").plural("{n} contact", "{n} contacts", 5).startswith("5 ")


def test_dates_are_formatted_per_locale() -> None:
    day = dt.date(2026, 3, 8)
    assert strings("en").date(day) == "March 8, 2026"
    assert strings("ru").date(day) == "8 марта 2026\u202fг."
    assert strings("ky").date(day) == "2026-ж., 8-март"
