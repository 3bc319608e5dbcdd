"""Danger, recognised before anything else: such a message goes to "I am in trouble".

Phrases are matched on the normalised text (and its Cyrillic reading when typed in Latin), as
word stems, so endings and Latin typing do not hide them. A false alarm costs a user one extra
screen with hotlines; a missed one can cost much more, so the list leans to recall.
"""

from __future__ import annotations

import re

from app.answers.normalize import fold, variants

# Stems (already folded: no ё, ө->о, ү->у, ң->н), one phrase = words that must all appear in
# that order, each word a prefix.
PHRASES: tuple[str, ...] = (
    # Russian
    "помогит",
    "помоги",
    "спасит",
    "sos",
    "сос",
    "забрал паспорт",
    "отобрал паспорт",
    "отнял паспорт",
    "паспорт забрал",
    "паспорт отобрал",
    "паспорт отнял",
    "забрали документ",
    "отобрали документ",
    "держит паспорт",
    "не выпуска",
    "не отпуска",
    "заперл",
    "закрыл нас",
    "закрыли меня",
    "держат взаперт",
    "бьют",
    "избил",
    "избива",
    "бьет",
    "угрожа",
    "насили",
    "продал нас",
    "продали меня",
    "продали нас",
    "не плат",
    "не заплат",
    "не выплач",
    "задержал полиц",
    "арестова",
    "полиция задерж",
    "меня задерж",
    "задержали",
    "менты",
    "мент забрал",
    "травм",
    "в больниц",
    "скорую",
    "сломал",
    "упал с",
    "отжал",
    "не отда",
    "не возвраща",
    "не дают",
    "продан",
    "украли",
    "украден",
    "обокрал",
    # Kyrgyz
    "жардам бер",
    "жардам кыл",
    "жардам керек",
    "куткар",
    "паспортумду ал",
    "паспортту ал",
    "паспортумду бербей",
    "документтеримди ал",
    "чыгарбай",
    "чыгарышпай",
    "кетиришпей",
    "коё бербей",
    "камап",
    "камашты",
    "сабап",
    "сабашты",
    "урушат",
    "урду",
    "уруп",
    "коркут",
    "сатып жибер",
    "сатышты",
    "айлык бербей",
    "айлык беришпей",
    "акча бербей",
    "акы бербей",
    "кармап кет",
    "кармашты",
    "милиция карм",
    "полиция карм",
    "жаракат",
    # English
    "help me",
    "please help",
    "took my passport",
    "taken my passport",
    "passport taken",
    "keeps my passport",
    "kept my passport",
    "holding my passport",
    "locked",
    "lock me",
    "not allowed to leave",
    "cant leave",
    "can't leave",
    "wont let me",
    "beat",
    "hit me",
    "threaten",
    "forced to work",
    "trafficked",
    "sold me",
    "not paid",
    "no salary",
    "not been paid",
    "havent been paid",
    "haven't been paid",
    "arrested",
    "detained",
    "injured",
    "hurt",
    "in danger",
    "emergency",
    "was sold",
    "sold to",
    "cant go out",
    "can't go out",
    "ambulance",
    "fell from",
    "broke my",
    "broken",
    "stolen",
    "police took",
    "taken by police",
    "wont give back",
    "won't give back",
    "not giving back",
)


def _pattern(phrase: str) -> re.Pattern[str]:
    words = fold(phrase.replace("'", "")).split()
    return re.compile(r"\b" + r"\w*\W+(?:\w+\W+){0,2}".join(re.escape(w) for w in words))


_PATTERNS = [_pattern(p) for p in PHRASES]


def is_emergency(text: str) -> bool:
    """Whether the message says the person is in danger or in serious trouble now."""
    for variant in variants(text.replace("'", "")):
        if any(p.search(variant) for p in _PATTERNS):
            return True
    return False
