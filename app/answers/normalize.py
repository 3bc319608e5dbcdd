"""How people type, folded to one form: case, ё, Kyrgyz letters typed as plain ones, Latin
letters for Cyrillic words, repeated letters, common slang and abbreviations.

Applied alike to the indexed texts and to the questions, so both meet in the same form.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
LATIN = re.compile(r"[a-z]")
CYRILLIC = re.compile(r"[а-яёөүң]")
REPEATS = re.compile(r"(\w)\1{2,}")

# Kyrgyz letters are often typed as their Russian look-alikes: fold both ways to the plain one.
# й too: Latin typing writes it "i" (aitpai, pervyi), so й and и meet as и.
FOLD = str.maketrans({"ё": "е", "ө": "о", "ү": "у", "ң": "н", "ъ": "", "ь": "", "й": "и"})

# Latin -> Cyrillic, longest first (as Kyrgyz and Russian speakers type on a Latin keyboard).
# "j" is always ж: Kyrgyz is typed jumush, jardam, jok; Russian speakers write ya, yu, yo.
TRANSLIT: tuple[tuple[str, str], ...] = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("sh", "ш"),
    ("ch", "ч"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    # "c" is ц before e, i, y and at the end of a word (mesyac, policiya, cena), else к.
    ("ce", "це"),
    ("ci", "ци"),
    ("cy", "цы"),
    ("ya", "я"),
    ("yu", "ю"),
    ("yo", "е"),
    ("ye", "е"),
    ("oe", "о"),
    ("ue", "у"),
    ("ö", "о"),
    ("ü", "у"),
    ("ñ", "н"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("y", "ы"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "к"),
    ("j", "ж"),
    ("q", "к"),
    ("w", "в"),
    ("x", "кс"),
    ("'", ""),
)
_TRANSLIT = re.compile("|".join(re.escape(latin) for latin, _ in TRANSLIT))
_TRANSLIT_MAP = dict(TRANSLIT)

# Words people write instead of the ones the content uses (after folding).
SLANG = {
    "скока": "сколько",
    "скоко": "сколько",
    "щас": "сейчас",
    "пасик": "паспорт",
    "паспортуму": "паспорт",
    "загран": "загранпаспорт",
    "загранник": "загранпаспорт",
    "доки": "документы",
    "документы": "документы",
    "зп": "зарплата",
    "зарплату": "зарплата",
    "зарплаты": "зарплата",
    "айдишка": "id",
    "айдишке": "id",
    "айди": "id",
    "работодатель": "работодатель",
    "босс": "работодатель",
    "шеф": "работодатель",
    "миграционка": "миграционная",
    "регистрацию": "регистрация",
    "регистрации": "регистрация",
    "рега": "регистрация",
    "регу": "регистрация",
    # looked up folded: "регаться" is met as "регатся"
    "регатся": "регистрация",
    "зарегатся": "регистрация",
    "зарегался": "регистрация",
    "зарегалас": "регистрация",
    "регнутся": "регистрация",
    "зарегитса": "регистрация",
    "зарегится": "регистрация",
    "патента": "патент",
    "u": "you",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "dont": "do not",
    # English contractions, typed with or without the apostrophe (dropped by `fold`)
    "havent": "have not",
    "hasnt": "has not",
    "didnt": "did not",
    "doesnt": "does not",
    "cant": "can not",
    "cannot": "can not",
    "wont": "will not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "shouldnt": "should not",
    "couldnt": "could not",
    "im": "i am",
    "ive": "i have",
}
# Looked up in folded words and put back among folded words: keys and values folded too.
SLANG = {key.translate(FOLD): value.translate(FOLD) for key, value in SLANG.items()}
APOSTROPHES = re.compile(r"(?<=[a-z])['’`](?=[a-z])")


def fold(text: str) -> str:
    """Lower case, one spelling for look-alike letters, no punctuation, no stretched letters."""
    # Stretched letters first: folded, "ийи" would read as three и (кийим "clothes" as ким "who").
    text = REPEATS.sub(r"\1", text.lower())
    text = APOSTROPHES.sub("", text.translate(FOLD))
    words = [SLANG.get(w, w) for w in WORD.findall(text)]
    return " ".join(words)


# Latin letters whose reading depends on their neighbours, read before the table: "y" after a
# vowel and before a consonant (or the end) is й, not ы: aylyk, kanday, kaysy; "c" with no letter
# after it is ц (mesyac; before e, i, y the table reads it as ц, else as к).
_CONTEXT = (
    (re.compile(r"(?<=[aeiouöü])y(?![aeiouyöü])"), "й"),
    (re.compile(r"c(?![^\W\d_])"), "ц"),
)


def to_cyrillic(text: str) -> str:
    """Latin-typed Kyrgyz or Russian in Cyrillic letters (other letters are kept)."""
    text = text.lower()
    for pattern, cyrillic in _CONTEXT:
        text = pattern.sub(cyrillic, text)
    return _TRANSLIT.sub(lambda m: _TRANSLIT_MAP[m.group(0)], text)


def variants(text: str) -> list[str]:
    """The folded text, and its Cyrillic reading when it is typed in Latin letters."""
    folded = fold(text)
    out = [folded]
    if LATIN.search(folded):
        cyrillic = fold(to_cyrillic(folded))
        if cyrillic != folded:
            out.append(cyrillic)
    return out


KYRGYZ_LETTERS = re.compile(r"[өүң]")
KYRGYZ_WORDS = {
    "кантип",
    "кайда",
    "керек",
    "жок",
    "барбы",
    "эмне",
    "менен",
    "мен",
    "мага",
    "менин",
    "сиз",
    "үчүн",
    "учун",
    "болот",
    "болобу",
    "кандай",
    "качан",
    "канча",
    "жумуш",
    "айлык",
    "алып",
    "бербей",
    "жатат",
    "жардам",
    "беришпейт",
    "кетсем",
    "барсам",
    "кылам",
    "эмес",
    "деп",
    "жана",
    "дагы",
    "бирок",
    "ооба",
    "жакшы",
    "иштейм",
    "иштеп",
    "коюшту",
    "алышты",
    "керекпи",
}
RUSSIAN_WORDS = {
    "как",
    "где",
    "что",
    "нужно",
    "надо",
    "можно",
    "меня",
    "мне",
    "мой",
    "моя",
    "если",
    "нет",
    "это",
    "сколько",
    "когда",
    "почему",
    "не",
    "на",
    "и",
    "в",
    "за",
    "по",
    "у",
    "с",
    "работу",
    "работа",
    "делать",
    "забрали",
    "платят",
    "помогите",
    "есть",
    "ли",
    "или",
    "какие",
}
ENGLISH_WORDS = {
    "the",
    "my",
    "is",
    "how",
    "what",
    "i",
    "to",
    "do",
    "can",
    "where",
    "me",
    "a",
    "for",
    "in",
    "of",
    "and",
    "it",
    "they",
    "help",
    "need",
    "job",
    "work",
    "when",
    "should",
    "does",
    "you",
    "your",
    "not",
    "have",
    "get",
    "am",
    "are",
    "with",
    "about",
    "without",
    "if",
    "took",
}


def detect_language(text: str, fallback: str | None = None) -> str:
    """ky, ru or en: the script, Kyrgyz letters and typical words (Latin-typed ky/ru too)."""
    lowered = text.lower()
    if KYRGYZ_LETTERS.search(lowered):
        return "ky"
    words = set(WORD.findall(lowered))
    if CYRILLIC.search(lowered):
        ky = len(words & KYRGYZ_WORDS) + sum(
            w.endswith(("мун", "мын", "бы", "бу", "пы", "пи", "ймын", "сыз", "суз")) for w in words
        )
        ru = len(words & RUSSIAN_WORDS)
        return "ky" if ky > ru else "ru" if ru > ky or fallback not in ("ky", "ru") else fallback
    if not LATIN.search(lowered):
        return fallback or "en"
    english = len(words & ENGLISH_WORDS)
    cyr_words = set(WORD.findall(fold(to_cyrillic(lowered))))
    ky = len(cyr_words & {fold(w) for w in KYRGYZ_WORDS})
    ru = len(cyr_words & {fold(w) for w in RUSSIAN_WORDS})
    if english >= max(ky, ru) and english > 0:
        return "en"
    if ky or ru:
        return "ky" if ky > ru else "ru"
    return fallback or "en"
