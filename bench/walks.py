"""Scripted users for the benchmarks: realistic conversations with the real content.

A session is one new user's conversation: /start (with the client's language hint), the language
button, onboarding, the destination, then a browse phase of tree buttons, quiz answers, Back /
Menu / Help / SOS, free-text questions (answered as the service answers them: `QuestionIndex`,
with the emergency check), the odd language
change and, in a consular request form, its answers (country, city, what happened, the phone number,
consent) or a Cancel.

Every event is picked from the buttons of the replies the engine gave to the previous event, so a
walk only presses what a real user could press. Sessions are made once, before any timing, by
running the real engine in-process; each turn keeps the JSON body to send and the node the user
must be at afterwards, so the API benchmark can check that the server walked the same way.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/run.py` without an installed package
    sys.path.insert(0, str(ROOT))

from pydantic import TypeAdapter  # noqa: E402

from app.answers.emergency import is_emergency  # noqa: E402
from app.answers.index import QuestionIndex  # noqa: E402
from app.content.model import Content, compile_bundle  # noqa: E402
from app.content.schema import QuestionNode  # noqa: E402
from app.content.validator import check_directory  # noqa: E402
from app.dialogue.engine import Answerer, step  # noqa: E402
from app.dialogue.types import Event, Reply, State  # noqa: E402

CONTENT_DIR = ROOT / "content"
EVENT: TypeAdapter[Event] = TypeAdapter(Event)

# Questions the content does not answer (the engine says "Sorry, I did not understand").
UNKNOWN = {
    "ky": ["салам", "бүгүн аба ырайы кандай", "Москвага билет канча турат", "рахмат"],
    "ru": ["привет", "сколько стоит билет до москвы", "какая погода в стамбуле", "спасибо"],
    "en": ["hello", "how much is a ticket to Moscow", "what is the weather in Istanbul", "thanks"],
}
# What a user types into the consular request form (a city, what happened).
FORM_TEXTS = [
    "Москва",
    "Новосибирск",
    "Алматы",
    "Istanbul",
    "Сеул",
    "Работодатель забрал паспорт и третий месяц не платит зарплату",
    "Иш берүүчү паспортумду алып койду",
    "I was not paid for two months",
]
LANG_HINTS = [
    ("ky", "ky"),
    ("ky", None),
    ("ru", "ru-RU"),
    ("ru", "ru"),
    ("en", "en-GB"),
    ("ru", None),
    ("ky", "ky-KG"),
    ("ru", "ru-RU"),
    ("ky", None),
    ("en", "en"),
]


@dataclass(frozen=True)
class Turn:
    kind: str  # what the user did, for the breakdown: start, language, option, quiz, ...
    body: bytes  # the JSON body for the API
    event: Event  # the same event, validated (what the engine takes)
    node: str | None  # where the user must be after it


# What the service (app/conversations/service.py) passes to `step` besides the answerer, so that
# the walks made here are the walks the server makes.
STEP_OPTIONS: dict[str, Any] = {"emergency": is_emergency}


def service_answerer(content: Content) -> Answerer:
    """The question answerer the service builds for published content (`ContentStore`)."""
    answerer: Answerer = QuestionIndex(content)
    return answerer


def load_content(content_dir: Path = CONTENT_DIR) -> Content:
    """Validate and compile the content files in-process, as `jol content load` would."""
    report = check_directory(content_dir, review_max_age_days=10_000)
    if report.bundle is None:
        raise SystemExit(
            f"{content_dir}: {len(report.errors)} content errors (see `jol content check`)"
        )
    return compile_bundle(report.bundle, 1, "bench")


def _buttons(replies: list[Reply], prefix: str) -> list[str]:
    return [
        b.data
        for r in replies
        for row in r.buttons
        for b in row
        if b.data and b.data.startswith(prefix)
    ]


class _Session:
    def __init__(self, content: Content, answerer: Answerer, rng: random.Random) -> None:
        self.content = content
        self.answerer = answerer
        self.rng = rng
        self.state = State()
        self.replies: list[Reply] = []
        self.turns: list[Turn] = []
        self.questions = {
            lang: [str(q) for a in lc.articles.values() for q in a.questions]
            for lang, lc in content.languages.items()
        }

    def send(self, kind: str, **event: Any) -> None:
        parsed = EVENT.validate_python(event)
        result = step(self.content, self.state, parsed, answer=self.answerer, **STEP_OPTIONS)
        self.state, self.replies = result.state, result.replies
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        self.turns.append(Turn(kind, body, parsed, result.state.node))

    def press(self, kind: str, data: str) -> None:
        self.send(kind, type="button", data=data)

    def in_quiz(self) -> bool:
        if not self.state.node:
            return False
        tree, _, node = self.state.node.partition(":")
        return isinstance(self.content.lang(self.state.lang).nodes.get((tree, node)), QuestionNode)

    def fill_form(self) -> None:
        """A consular request being filled in (the replies offer Cancel): answer what is asked."""
        rng = self.rng
        last = self.replies[-1]
        form = _buttons(self.replies, "f")  # fc.<country> fk.<category> fs.<field> (skip) fy
        if rng.random() < 0.15:
            self.press("cancel", "c.cancel")
        elif last.contact_request:
            phone = f"+996 555 {rng.randrange(1000):03d} {rng.randrange(1000):03d}"
            if rng.random() < 0.5:
                self.send("form", type="contact", phone=phone.replace(" ", ""), own=True)
            else:
                self.send("form", type="text", text=phone)
        elif "fy" in form:
            self.press("form", "fy")  # consent: the request is filed
        elif choices := [b for b in form if b.startswith(("fc.", "fk."))]:
            self.press("form", rng.choice(choices))
        elif skips := [b for b in form if b.startswith("fs.")]:
            if rng.random() < 0.5:
                self.press("form", skips[0])
            else:
                self.send("form", type="text", text=rng.choice(FORM_TEXTS))
        else:
            self.press("cancel", "c.cancel")

    def browse_one(self) -> None:
        rng = self.rng
        if "c.cancel" in _buttons(self.replies, "c."):
            self.fill_form()
            return
        options = _buttons(self.replies, "n.") + _buttons(self.replies, "a.")
        if self.in_quiz() and options and rng.random() < 0.9:
            self.press("quiz", rng.choice(options))
            return
        r = rng.random()
        if r < 0.55 and options:
            # Topic buttons come first and "Menu" / "Other topics" last: users mostly go deeper.
            choice = options[int(rng.random() ** 1.5 * len(options))]
            self.press("article" if choice.startswith("a.") else "option", choice)
        elif r < 0.63:
            if "g.back" in _buttons(self.replies, "g.") and rng.random() < 0.7:
                self.press("command", "g.back")
            else:
                self.send("command", type="command", name="back")
        elif r < 0.69:
            if rng.random() < 0.5:
                self.send("command", type="command", name="menu")
            else:
                self.send("command", type="text", text="/menu")
        elif r < 0.73:
            self.send("command", type="command", name="help")
        elif r < 0.87:
            lang = self.state.lang or "ky"
            if rng.random() < 0.8:
                self.send("question", type="text", text=rng.choice(self.questions[lang]))
            else:
                self.send("question", type="text", text=rng.choice(UNKNOWN[lang]))
        elif r < 0.90:
            self.press("command", "g.sos")
        elif r < 0.92:
            self.send("command", type="command", name="language")
            new_lang = self.state.lang if rng.random() < 0.5 else rng.choice(["ky", "ru", "en"])
            self.press("language", f"l.{new_lang}")
        elif r < 0.93:
            self.send("start", type="text", text="/start")
        elif options:
            self.press("option", rng.choice(options))
        else:
            self.send("command", type="command", name="menu")


def make_session(
    content: Content, answerer: Answerer, rng: random.Random, browse: tuple[int, int] = (15, 45)
) -> list[Turn]:
    """One new user's conversation, from /start to wherever the browse phase ends."""
    s = _Session(content, answerer, rng)
    lang, hint = rng.choice(LANG_HINTS)
    start: dict[str, Any] = {"type": "start"}
    if hint:
        start["language_hint"] = hint
    if rng.random() < 0.2:
        start["payload"] = rng.choice(["osh-2026", "bishkek-fair", "radio"])
    s.send("start", **start)
    s.press("language", f"l.{lang}")
    s.press("option", _buttons(s.replies, "n.")[0])  # onboarding: Continue
    s.press("option", rng.choice(_buttons(s.replies, "n.")))  # the destination
    for _ in range(rng.randint(*browse)):
        s.browse_one()
    return s.turns


def make_pool(
    content: Content, answerer: Answerer, sessions: int, seed: int = 20261125
) -> list[list[Turn]]:
    rng = random.Random(seed)
    return [make_session(content, answerer, rng) for _ in range(sessions)]


def mix(pool: list[list[Turn]]) -> str:
    """The share of each kind of turn in the pool, e.g. 'option 41%, question 12%, ...'."""
    counts = Counter(t.kind for session in pool for t in session)
    total = sum(counts.values())
    return ", ".join(f"{k} {100 * n / total:.0f}%" for k, n in counts.most_common())
