"""The development set (tests/answers/dev_questions.yaml), used for tuning so that the evaluation
set stays held out: well-formed, and independent of both the evaluation set and the articles'
example questions (no near-copies either way), so each of the three sets measures something.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.content.model import Content, compile_bundle
from app.content.validator import check_directory
from tests.answers.test_eval import ITEMS as EVAL_ITEMS
from tests.answers.test_eval import NEAR_COPY, _trigrams

ROOT = Path(__file__).resolve().parents[2]
DEV = yaml.safe_load(Path(__file__).with_name("dev_questions.yaml").read_text(encoding="utf-8"))[
    "questions"
]
KINDS = {"plain", "latin", "typo", "slang", "emergency"}


@pytest.fixture(scope="module")
def shipped() -> Content:
    report = check_directory(ROOT / "content")
    assert report.bundle is not None
    return compile_bundle(report.bundle, 1, "shipped")


def _near(text: str, others: list[tuple[str, set[str]]]) -> list[str]:
    grams = _trigrams(text)
    return [o for o, g in others if len(grams & g) >= NEAR_COPY * len(grams | g)]


def test_the_dev_set_is_well_formed(shipped: Content) -> None:
    articles = set(shipped.lang("en").articles)
    for item in DEV:
        assert set(item) == {"text", "lang", "kinds", "article"}, item
        assert isinstance(item["text"], str) and item["text"].strip(), item
        assert item["lang"] in {"ky", "ru", "en"}, item
        assert item["kinds"] and set(item["kinds"]) <= KINDS, item
        assert item["article"] in articles, item
    texts = [item["text"] for item in DEV]
    assert len(texts) == len(set(texts))
    per_lang = {lang: sum(item["lang"] == lang for item in DEV) for lang in ("ky", "ru", "en")}
    assert per_lang["ky"] >= 80 and per_lang["ru"] >= 40 and per_lang["en"] >= 40, per_lang


def test_the_dev_set_copies_neither_the_evaluation_set_nor_the_examples(
    shipped: Content,
) -> None:
    others = [(item["text"], _trigrams(item["text"])) for item in EVAL_ITEMS]
    others += [
        (str(question), _trigrams(str(question)))
        for lc in shipped.languages.values()
        for article in lc.articles.values()
        for question in article.questions
    ]
    copies = [(item["text"], near) for item in DEV if (near := _near(item["text"], others))]
    assert copies == []
