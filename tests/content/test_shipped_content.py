"""The content we ship, held to the content quality bar: valid with no warning, every tree walked
in every language to every leaf, every answer within 3 taps of the menu, texts in the right
script, enough example questions per article."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from app.content.model import Content, compile_bundle
from app.content.schema import LANGUAGES, ArticleNode, QuestionNode
from app.content.validator import check_directory
from app.dialogue.engine import step
from app.dialogue.types import Event, State

CONTENT = Path(__file__).resolve().parents[2] / "content"
EVENT: TypeAdapter[Event] = TypeAdapter(Event)
CYRILLIC = re.compile(r"[А-Яа-яЁёӨөҮүҢң]")
LATIN = re.compile(r"[A-Za-z]")
KYRGYZ_LETTERS = re.compile(r"[ӨөҮүҢң]")
MAX_TAPS = 3
MIN_QUESTIONS = 8


@pytest.fixture(scope="module")
def shipped() -> Content:
    report = check_directory(CONTENT)
    assert report.bundle is not None, [p.format() for p in report.errors]
    return compile_bundle(report.bundle, 1, "shipped")


def test_no_error_and_no_warning() -> None:
    report = check_directory(CONTENT)
    assert [p.format() for p in report.problems] == []


def _buttons(replies: list) -> list[str]:  # type: ignore[type-arg]
    return [b.data for r in replies for row in r.buttons for b in row if b.data]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_button_of_every_node_works_in_every_language(shipped: Content, lang: str) -> None:
    """Breadth-first over what a user can press, from the first message to every leaf."""
    start = State()
    result = step(shipped, start, EVENT.validate_python({"type": "start"}))
    first = step(shipped, result.state, EVENT.validate_python({"type": "language", "lang": lang}))
    queue = deque([(first.state, _buttons(first.replies))])
    for command in ("help", "emergency", "menu"):  # reached by commands, not only by buttons
        result = step(
            shipped, first.state, EVENT.validate_python({"type": "command", "name": command})
        )
        queue.append((result.state, _buttons(result.replies)))
    seen_nodes: set[str] = {state.node for state, _ in queue if state.node}
    seen_states: set[tuple[str | None, str | None, int]] = set()
    while queue:
        state, buttons = queue.popleft()
        for data in buttons:
            result = step(shipped, state, EVENT.validate_python({"type": "button", "data": data}))
            assert result.replies, (lang, state.node, data)
            for reply in result.replies:
                assert 0 < len(reply.text) <= 4096
                assert not reply.text.startswith("This menu has changed"), (lang, state, data)
            node = result.state.node
            key = (node, result.state.country, result.state.score)
            if node:
                seen_nodes.add(node)
            if key in seen_states or data.startswith(("l.", "c.")):
                continue
            seen_states.add(key)
            queue.append((result.state, _buttons(result.replies)))
    all_nodes = {f"{t}:{n}" for t, n in shipped.lang(lang).nodes}
    assert all_nodes - seen_nodes == set(), "nodes no button leads to"


def test_every_article_within_three_taps_of_the_menu(shipped: Content) -> None:
    lc = shipped.lang("en")
    main = lc.resolve(lc.menu.main)
    assert main is not None
    depth = {main: 0}
    queue = deque([main])
    while queue:
        ref = queue.popleft()
        node = lc.nodes[ref]
        choices = node.answers if isinstance(node, QuestionNode) else node.options
        for choice in choices:
            target = lc.resolve(choice.goto, ref[0])
            if target and target not in depth:
                depth[target] = depth[ref] + 1
                queue.append(target)
    too_deep = {
        f"{t}:{n}": depth.get((t, n))
        for (t, n), node in lc.nodes.items()
        if isinstance(node, ArticleNode) and depth.get((t, n), 99) > MAX_TAPS
    }
    assert too_deep == {}


def _texts(value: object, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v, key)]
    if isinstance(value, str) and key in {"title", "body", "text", "label", "summary"}:
        return [(key, value)]
    return []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_texts_are_written_in_their_language(lang: str) -> None:
    report = check_directory(CONTENT)
    assert report.bundle is not None
    data = report.bundle["languages"][lang]
    wrong = []
    for key, text in _texts({"topics": data["topics"], "trees": data["trees"]}):
        letters = CYRILLIC.findall(text) + LATIN.findall(text)
        if not letters:
            continue  # a number, an emoji
        cyrillic = len(CYRILLIC.findall(text)) / len(letters)
        if (lang == "en" and cyrillic > 0.2) or (lang != "en" and cyrillic < 0.5):
            wrong.append((key, text[:60]))
    assert wrong == []


def test_example_questions(shipped: Content) -> None:
    short = {}
    for lang in LANGUAGES:
        for article in shipped.lang(lang).articles.values():
            questions = [str(q) for q in article.questions]
            latin = [q for q in questions if not CYRILLIC.search(q)]
            if len(questions) < MIN_QUESTIONS or (lang != "en" and not latin):
                short[f"{lang}:{article.id}"] = (len(questions), len(latin))
    assert short == {}, "at least 8 questions, one typed in Latin letters (ky, ru)"


def test_kyrgyz_uses_kyrgyz_letters(shipped: Content) -> None:
    """A Kyrgyz body with none of ө, ү, ң is very likely Russian pasted in."""
    suspicious = [
        a.id
        for a in shipped.lang("ky").articles.values()
        if len(str(a.body)) > 200 and not KYRGYZ_LETTERS.search(str(a.body))
    ]
    assert suspicious == []
