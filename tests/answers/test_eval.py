"""Question answering on the evaluation set (tests/answers/eval_questions.yaml).

The floors are the figures reached so far, a little below, so a regression fails; they are not
the product's bars (top-1 >= 90%, top-3 >= 97% per language, emergencies 100%), which
`bench/qa_bench.py` reports against.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from app.answers.emergency import is_emergency
from app.answers.index import QuestionIndex
from app.answers.normalize import detect_language, fold, to_cyrillic, variants
from app.content.model import Content, compile_bundle
from app.content.validator import check_directory

ROOT = Path(__file__).resolve().parents[2]
ITEMS = yaml.safe_load(
    (Path(__file__).with_name("eval_questions.yaml")).read_text(encoding="utf-8")
)["questions"]
FLOORS_TOP1 = {"all": 0.94, "ky": 0.96, "ru": 0.94, "en": 0.91}
FLOORS_TOP3 = {"all": 0.97, "ky": 0.97, "ru": 0.97, "en": 0.97}


@pytest.fixture(scope="module")
def shipped() -> Content:
    report = check_directory(ROOT / "content")
    assert report.bundle is not None
    return compile_bundle(report.bundle, 1, "shipped")


def test_the_set_labels_real_articles_and_has_the_required_mix(shipped: Content) -> None:
    articles = set(shipped.lang("en").articles)
    assert {item["article"] for item in ITEMS} <= articles
    per_lang = defaultdict(int)
    kinds = defaultdict(int)
    for item in ITEMS:
        per_lang[item["lang"]] += 1
        for kind in item["kinds"]:
            kinds[kind] += 1
    assert len(ITEMS) >= 300 and min(per_lang.values()) >= 80
    assert kinds["latin"] >= 40 and kinds["typo"] >= 30 and kinds["emergency"] >= 20


def _trigrams(text: str) -> set[str]:
    padded = " " + " ".join(fold(text).split()) + " "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


# Content examples this close to an evaluation question (Jaccard similarity of their letter
# trigrams, after folding) would let the question test nothing: "регистрацыяны почтадан жасаса
# болобу" in the index and "регистрацияны почтадан жасаса болобу" in the set. 0.6 is above what
# two people asking about the same thing in their own words reach (0.3 at most, typically).
NEAR_COPY = 0.6


def test_no_example_question_in_the_content_copies_an_evaluation_question(
    shipped: Content,
) -> None:
    items = [(item["text"], _trigrams(item["text"])) for item in ITEMS]
    copies = []
    for lang, lc in shipped.languages.items():
        for article in lc.articles.values():
            for question in article.questions:
                grams = _trigrams(str(question))
                for text, other in items:
                    if len(grams & other) >= NEAR_COPY * len(grams | other):
                        copies.append((lang, article.id, str(question), text))
    assert copies == []


def test_accuracy_does_not_fall_below_the_floors(shipped: Content) -> None:
    index = QuestionIndex(shipped)
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for item in ITEMS:
        ids = [m.article_id for m in index(item["text"], item["lang"])]
        for key in ("all", item["lang"]):
            hits[key].append((ids[:1] == [item["article"]], item["article"] in ids[:3]))
    for key, results in hits.items():
        top1 = sum(a for a, _ in results) / len(results)
        top3 = sum(b for _, b in results) / len(results)
        assert top1 >= FLOORS_TOP1[key], (key, top1)
        assert top3 >= FLOORS_TOP3[key], (key, top3)


def test_emergencies_are_recognised(shipped: Content) -> None:
    emergencies = [i["text"] for i in ITEMS if "emergency" in i["kinds"]]
    others = [i["text"] for i in ITEMS if "emergency" not in i["kinds"]]
    recall = sum(map(is_emergency, emergencies)) / len(emergencies)
    false_alarms = sum(map(is_emergency, others)) / len(others)
    assert recall == 1.0 and false_alarms <= 0.04, (recall, false_alarms)
    for text in [
        "помогите",
        "жардам бериңиз",
        "help me",
        "pasportumdu alyp koyushty",
        "my boss took my passport",
        "работодатель забрал паспорт",
        "3 ай айлык бербей жатат",
        "нас заперли и не выпускают",
    ]:
        assert is_emergency(text), text
    for text in ["регистрация скока дней", "how do i check an agency", "келишим кандай болот"]:
        assert not is_emergency(text), text


def test_normalisation_of_how_people_type() -> None:
    assert fold("ПАСПОРТ!!! Ёлка   өмүр") == "паспорт елка омур"
    # Slang meets the folded spelling of the word it stands for (no ь, й read as и).
    assert fold("пааааспорт скока") == fold("паспорт сколько") == "паспорт сколко"
    assert fold("щас") == fold("сейчас") and fold("босс") == fold("Работодатель")
    assert fold("айдишка") == "id"
    assert to_cyrillic("pasportumdu alyp koyushty") == "паспортумду алып коюшты"
    assert to_cyrillic("jumush kaida") == "жумуш каида"  # a reading, compared after folding
    assert "паспортумду алып коюшты" in variants("pasportumdu alyp koyushty")


def test_language_detection() -> None:
    assert detect_language("жумушка кантип барам") == "ky"
    assert detect_language("как получить патент") == "ru"
    assert detect_language("how do i get a work permit") == "en"
    assert detect_language("kattoo kancha kun kerek") == "ky"
    assert detect_language("skolko dney registraciya nado") == "ru"
    correct = sum(detect_language(i["text"]) == i["lang"] for i in ITEMS) / len(ITEMS)
    assert correct >= 0.88


def test_greetings_are_not_questions(shipped: Content) -> None:
    index = QuestionIndex(shipped)
    for text in ["салам", "Здравствуйте!", "hello", "рахмат", "спасибо"]:
        assert index(text, "ky") == [], text
    # A greeting before a question changes nothing.
    for question in ["pasportumdu alyp koyushty", "my boss took my passport"]:
        bare = [m.article_id for m in index(question, "ky")]
        assert bare and [m.article_id for m in index(f"Салам! {question}", "ky")] == bare
