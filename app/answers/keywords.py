"""The plain baseline for question answering: keywords, no normalisation.

Words are lower-cased and cut to their first five letters; an article's score is the share of
the query's weight (by idf) it covers. The service answers with `app.answers.index`; this stays
as the baseline `bench/qa_bench.py` measures it against, in the same run.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from app.content.model import Content
from app.dialogue.engine import Match

WORD = re.compile(r"\w+", re.UNICODE)
STEM = 5
MIN_SCORE = 0.5


def stems(text: str) -> set[str]:
    return {w[:STEM] for w in WORD.findall(text.lower()) if len(w) > 1 and not w.isdigit()}


class KeywordAnswerer:
    """Built once per published content version; answering is dictionary lookups."""

    def __init__(self, content: Content) -> None:
        self._postings: dict[str, dict[str, dict[str, float]]] = {}
        self._idf: dict[str, dict[str, float]] = {}
        for lang, lc in content.languages.items():
            postings: dict[str, dict[str, float]] = defaultdict(dict)
            for article in lc.articles.values():
                weighted = [
                    (stems(str(article.title)), 2.0),
                    (stems(" ".join(article.tags)), 2.0),
                    (stems(" ".join(str(q) for q in article.questions)), 1.5),
                    (stems(str(article.body)), 0.5),
                ]
                for words, weight in weighted:
                    for w in words:
                        postings[w][article.id] = max(postings[w].get(article.id, 0.0), weight)
            n = max(len(lc.articles), 1)
            self._postings[lang] = dict(postings)
            self._idf[lang] = {w: math.log(1 + n / len(docs)) for w, docs in postings.items()}

    def __call__(self, text: str, lang: str) -> list[Match]:
        postings = self._postings.get(lang, {})
        idf = self._idf.get(lang, {})
        query = stems(text)
        if not query:
            return []
        total = sum(idf.get(w, math.log(2)) for w in query)
        scores: dict[str, float] = defaultdict(float)
        for w in query:
            for article_id, weight in postings.get(w, {}).items():
                scores[article_id] += idf[w] * min(weight, 1.0)
        ranked = sorted(((s / total, a) for a, s in scores.items()), reverse=True)
        return [Match(a, round(s, 3)) for s, a in ranked[:3] if s >= MIN_SCORE]
