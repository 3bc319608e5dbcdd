"""Question answering over the published articles, in all three languages at once.

Every article is indexed by its title, tags, example questions and body, in every language,
after normalisation (`normalize`): a question in Latin-typed Kyrgyz can match an example written
in Cyrillic, and a Russian question finds the article the user then reads in their own language.
Texts are compared as bags of character n-grams (3 to 5 letters inside words, with word
boundaries), weighted by TF-IDF: this absorbs typos and the endings of Kyrgyz and Russian words
(паспорт-ум-ду) without a stemmer per language. An article scores its best matching text, plus a
little of its second best, so an article with several close examples wins over a lucky one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from app.answers.emergency import is_emergency
from app.answers.normalize import detect_language, variants
from app.content.model import Content
from app.dialogue.engine import Match

N_MIN, N_MAX = 3, 5
WEIGHTS = {"question": 1.0, "title": 0.9, "tags": 0.6, "body": 0.45}
# N-grams found in more than this share of the texts say little and cost the most (their
# posting lists are the longest): queries skip them.
MAX_SHARE = 0.2
# How much an article's second best text adds to its best.
SECOND = 0.5
# Below this an answer is a guess: the engine says it is not sure.
MIN_SCORE = 0.22
# Below this it is not even worth offering as a topic.
MIN_GUESS = 0.08


def ngrams(text: str) -> dict[str, float]:
    grams: dict[str, float] = defaultdict(float)
    for word in text.split():
        padded = f" {word} "
        for n in range(N_MIN, N_MAX + 1):
            for i in range(len(padded) - n + 1):
                grams[padded[i : i + n]] += 1.0
        if len(word) <= 2:
            grams[f"<{word}>"] += 1.0
    return grams


def has_a_word(text: str) -> bool:
    """A question needs at least one word of three letters or more (after folding)."""
    return any(len(w) >= 3 for v in variants(text) for w in v.split())


@dataclass(frozen=True)
class _Doc:
    article_id: str
    weight: float
    norm: float


class QuestionIndex:
    """Built once per published content version; a query is a few dictionary walks."""

    def __init__(self, content: Content) -> None:
        raw: list[tuple[str, float, dict[str, float]]] = []
        for lc in content.languages.values():
            for article in lc.articles.values():
                texts = [
                    ("title", str(article.title)),
                    ("tags", " ".join(article.tags)),
                    ("body", str(article.body)),
                ]
                texts += [("question", str(q)) for q in article.questions]
                for kind, text in texts:
                    for variant in variants(text):
                        grams = ngrams(variant)
                        if grams:
                            raw.append((article.id, WEIGHTS[kind], grams))
        frequency: dict[str, int] = defaultdict(int)
        for _, _, grams in raw:
            for gram in grams:
                frequency[gram] += 1
        total = len(raw)
        self.idf = {g: math.log(1 + total / f) for g, f in frequency.items()}
        self.min_idf = math.log(1 + 1 / MAX_SHARE)
        self.docs: list[_Doc] = []
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for article_id, weight, grams in raw:
            vector = {g: (1 + math.log(c)) * self.idf[g] for g, c in grams.items()}
            norm = math.sqrt(sum(v * v for v in vector.values()))
            index = len(self.docs)
            self.docs.append(_Doc(article_id, weight, norm))
            for gram, value in vector.items():
                self.postings[gram].append((index, value))
        self.articles = {d.article_id for d in self.docs}

    def scores(self, text: str) -> dict[str, float]:
        """Each article's score for the text (0..1)."""
        best: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for variant in variants(text):
            grams = ngrams(variant)
            query = {g: (1 + math.log(c)) * self.idf[g] for g, c in grams.items() if g in self.idf}
            qnorm = math.sqrt(sum(v * v for v in query.values()))
            if not qnorm:
                continue
            dots: dict[int, float] = defaultdict(float)
            for gram, value in query.items():
                if self.idf[gram] < self.min_idf:
                    continue
                for doc_index, weight in self.postings[gram]:
                    dots[doc_index] += value * weight
            for doc_index, dot in dots.items():
                doc = self.docs[doc_index]
                score = doc.weight * dot / (qnorm * doc.norm)
                top = best[doc.article_id]
                if score > top[0]:
                    top[0], top[1] = score, top[0]
                elif score > top[1]:
                    top[1] = score
        return {a: first + SECOND * second for a, (first, second) in best.items()}

    def __call__(self, text: str, lang: str) -> list[Match]:
        if not has_a_word(text):
            return []
        ranked = sorted(self.scores(text).items(), key=lambda item: -item[1])
        return [Match(a, round(s, 3), s >= MIN_SCORE) for a, s in ranked[:3] if s >= MIN_GUESS]


@dataclass(frozen=True)
class Answer:
    lang: str
    matches: list[Match]
    emergency: bool


def ask(index: QuestionIndex, text: str, lang: str | None) -> Answer:
    """Detect the language when not given, find the best articles, flag emergencies."""
    detected = lang or detect_language(text)
    matches = index(text, detected)
    return Answer(detected, matches, is_emergency(text))
