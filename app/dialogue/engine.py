"""The dialogue engine: a pure ``(content, state, event) -> (replies, new state, effects)``.

It does no I/O and knows no channel. Buttons carry compact data (at most 64 bytes):

* ``n.<version>.<node key>.<option key>`` -- an option or quiz answer of a node; the keys are hashes
  of ids, so a button sent with an older content version still means the same thing when the node
  and option still exist, and is recognised as stale when they do not;
* ``a.<version>.<article id>`` -- show an article (offered by question answering);
* ``g.menu|back|help|sos|lang`` -- the global commands; ``l.<lang>`` -- a language choice;
  ``c.cancel`` -- cancel a request for a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from app.content.model import Content, LanguageContent, NodeRef, option_key
from app.content.schema import (
    LANGUAGES,
    ActionNode,
    Answer,
    ArticleNode,
    Contact,
    ContactsNode,
    MessageNode,
    Node,
    Option,
    QuestionNode,
    VerdictNode,
)
from app.dialogue.consular import ConsularFlow, RequestInfo
from app.dialogue.types import (
    Button,
    ButtonEvent,
    CommandEvent,
    ContactEvent,
    Effect,
    Event,
    LanguageEvent,
    Reply,
    StartEvent,
    State,
    StepResult,
    TextEvent,
)
from app.i18n import Strings, _, strings
from app.markup import split_markup

HISTORY_LIMIT = 20
COMMANDS = {
    "/request": "requests",
    "/forget": "forget",
    "/stop": "stop",
    "/menu": "menu",
    "/back": "back",
    "/language": "language",
    "/help": "help",
    "/sos": "emergency",
}


@dataclass(frozen=True)
class Match:
    """An article that question answering found for a text, with its score (0..1).

    `confident` is false for a guess: the engine then says it is not sure and offers it as one
    topic among others rather than as the answer.
    """

    article_id: str
    score: float
    confident: bool = True


# Question answering as the engine sees it: (text, language) -> best matches first.
Answerer = Callable[[str, str], Sequence[Match]]


def step(
    content: Content,
    state: State,
    event: Event,
    *,
    answer: Answerer | None = None,
    default_lang: str = "ky",
    requests: Sequence[RequestInfo] = (),
    emergency: Callable[[str], bool] | None = None,
) -> StepResult:
    """Run one event through the dialogue. Never raises for any event or state.

    `requests` are the user's open consular requests, looked up by the service for the events
    that need them (`needs_requests`). `emergency` tells whether a free text says the person is
    in danger: such a text goes to the emergency entry before anything else.
    """
    state = _sane(content, state)
    turn = _Turn(content, state, default_lang, answer, requests, emergency)
    turn.handle(event)
    return StepResult(replies=turn.replies, state=turn.state, effects=turn.effects)


def _sane(content: Content, state: State) -> State:
    """Drop what the current content no longer has (a removed node, a language we lack)."""
    lc = content.lang(state.lang)
    node = state.node
    if node is not None and _ref(node) not in lc.nodes:
        node = None
    history = [h for h in state.history if _ref(h) in lc.nodes][-HISTORY_LIMIT:]
    lang = state.lang if state.lang in content.languages else None
    return replace(state, node=node, history=history, lang=lang)


def _ref(text: str) -> NodeRef:
    tree, _, node = text.partition(":")
    return (tree, node)


def _key(ref: NodeRef) -> str:
    return f"{ref[0]}:{ref[1]}"


def normalise_language(hint: str | None) -> str | None:
    """ky-KG, ru_RU, EN -> ky, ru, en; anything else -> None."""
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower(), maxsplit=1)[0]
    return code if code in LANGUAGES else None


def needs_requests(state: State, event: Event) -> bool:
    """Whether the engine needs the user's open requests for this event."""
    if isinstance(event, CommandEvent):
        return event.name == "requests"
    if isinstance(event, ButtonEvent):
        return event.data.startswith(("q.", "r."))
    return isinstance(event, TextEvent) and state.reply_to is not None


class _Turn(ConsularFlow):
    def __init__(
        self,
        content: Content,
        state: State,
        default_lang: str,
        answer: Answerer | None,
        requests: Sequence[RequestInfo] = (),
        emergency: Callable[[str], bool] | None = None,
    ) -> None:
        self.requests = requests
        self.emergency = emergency
        self.content = content
        self.state = state
        self.default_lang = default_lang
        self.answer = answer
        self.replies: list[Reply] = []
        self.effects: list[Effect] = []

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def lc(self) -> LanguageContent:
        return self.content.lang(self.state.lang or self.default_lang)

    @property
    def s(self) -> Strings:
        return strings(self.lc.lang)

    def say(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        contact_request: str | None = None,
    ) -> None:
        for chunk in split_markup(text):
            self.replies.append(Reply(text=chunk))
        last = self.replies[-1]
        self.replies[-1] = Reply(last.text, buttons or [], contact_request)

    def say_in(self, lang: str, message: str) -> None:
        self.say(strings(lang).get(message))

    @staticmethod
    def ref_of(key: str) -> NodeRef:
        return _ref(key)

    def menu_ref(self, name: str) -> NodeRef:
        resolved = self.lc.resolve(getattr(self.lc.menu, name))
        assert resolved is not None, "validated content has resolvable menu entries"
        return resolved

    # -- events ----------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if isinstance(event, StartEvent):
            self.on_start(event)
        elif self.state.lang is None and not isinstance(event, LanguageEvent):
            # Nothing works before a language is chosen; whatever came, ask for it first.
            self.on_start(StartEvent(type="start"))
        elif isinstance(event, LanguageEvent):
            self.on_language(event.lang)
        elif isinstance(event, CommandEvent):
            self.on_command(event.name)
        elif isinstance(event, ButtonEvent):
            self.on_button(event.data)
        elif isinstance(event, ContactEvent):
            self.on_contact(event.phone, own=event.own)
        elif isinstance(event, TextEvent):
            self.on_text(event.text)

    def on_start(self, event: StartEvent) -> None:
        self.effects.append(Effect("subscription", {"subscribed": True}))
        if event.payload:
            self.effects.append(Effect("campaign", {"payload": event.payload}))
        if self.state.lang is None:
            hint = normalise_language(event.language_hint) or self.default_lang
            self.state = replace(self.state, lang=hint, awaiting="language")
            self.ask_language(first=True)
            return
        self.state = replace(self.state, awaiting=None, history=[])
        self.goto(self.menu_ref("main"), push=False)

    def ask_language(self, *, first: bool = False) -> None:
        text = self.s.get(_("Choose your language:"))
        if first:
            text = (
                self.s.get(_("Hello! I am Jol, a guide for those going to work abroad."))
                + "\n\n"
                + text
            )
        current = self.state.lang
        buttons = [
            [
                Button(
                    ("✓ " if code == current and not first else "")
                    + self.content.languages[code].name,
                    data=f"l.{code}",
                )
            ]
            for code in LANGUAGES
            if code in self.content.languages
        ]
        self.state = replace(self.state, awaiting="language")
        self.say(text, buttons)

    def on_language(self, lang: str) -> None:
        first = self.state.node is None and not self.state.history
        self.state = replace(self.state, lang=lang, awaiting=None)
        self.effects.append(Effect("profile", {"lang": lang}))
        if first:
            self.goto(self.menu_ref("start"), push=False)
        else:
            self.say(self.s.get(_("Language changed.")))
            self.show_current()

    def on_command(self, name: str) -> None:
        # A command leaves whatever was half done (a form, an answer to the consulate).
        self.state = replace(self.state, awaiting=None, form=None, reply_to=None)
        if name == "requests":
            self.show_requests()
        elif name == "forget":
            self.ask_forget()
        elif name == "menu":
            self.goto(self.menu_ref("main"), push=False, reset=True)
        elif name == "back":
            self.back()
        elif name == "language":
            self.ask_language()
        elif name == "help":
            self.goto(self.menu_ref("help"))
        elif name == "emergency":
            self.state = replace(self.state, urgent=True)
            self.goto(self.menu_ref("emergency"))
        elif name == "stop":
            self.effects.append(Effect("subscription", {"subscribed": False}))
            self.say(
                self.s.get(
                    _(
                        "You will no longer receive news from Jol. The menu and answers still "
                        "work; send /start to receive news again."
                    )
                ),
                [[Button("☰ " + self.s.get(_("Menu")), data="g.menu")]],
            )

    def on_button(self, data: str) -> None:
        """Dispatch on the kind of button (see the module docstring); unknown data is stale."""
        kind, _sep, rest = data.partition(".")
        handlers: dict[str, Callable[[], bool]] = {
            "g": lambda: self.on_global_button(rest),
            "l": lambda: self.on_language_button(rest),
            "c": lambda: rest == "cancel" and self.cancel_form(),
            "fc": lambda: self.on_form_button(kind, rest),
            "fk": lambda: self.on_form_button(kind, rest),
            "fs": lambda: self.on_form_button(kind, rest),
            "fy": lambda: self.on_form_button(kind, rest),
            "q": lambda: self.on_request_button(kind, rest),
            "r": lambda: self.on_request_button(kind, rest),
            "x": lambda: self.on_forget_button(rest),
            "a": lambda: self.on_article_button(rest),
            "n": lambda: self.on_node_button(rest),
        }
        handler = handlers.get(kind)
        if handler is None or not handler():
            self.stale()

    def on_global_button(self, rest: str) -> bool:
        if rest == "consul":
            consul = self.consular_request_node()
            if consul is None:
                return False
            self.goto(consul)
            return True
        names = {
            "menu": "menu",
            "back": "back",
            "help": "help",
            "sos": "emergency",
            "lang": "language",
        }
        if rest not in names:
            return False
        self.on_command(names[rest])
        return True

    def on_language_button(self, lang: str) -> bool:
        if lang not in self.content.languages:
            return False
        self.on_language(lang)
        return True

    def on_article_button(self, rest: str) -> bool:
        _version, _sep, article_id = rest.partition(".")
        if article_id not in self.lc.articles:
            return False
        self.show_article_answer(article_id)
        return True

    def on_node_button(self, rest: str) -> bool:
        parts = rest.split(".")
        if len(parts) != 3:
            return False
        _version, node_key, opt_key = parts
        ref = self.content.node_by_key.get(node_key)
        if ref is None or ref not in self.lc.nodes:
            return False
        node = self.lc.nodes[ref]
        if isinstance(node, QuestionNode):
            # An answer counts only for the question the user is at: an old question's buttons
            # must not score twice.
            if self.state.node != _key(ref):
                return False
            for i, ans in enumerate(node.answers):
                if option_key(ans, i) == opt_key:
                    self.state = replace(self.state, score=self.state.score + ans.weight)
                    target = self.lc.resolve(ans.goto, ref[0])
                    if target is None:
                        return False
                    self.goto(target)
                    return True
            return False
        for i, opt in enumerate(node.options):
            if option_key(opt, i) == opt_key:
                target = self.lc.resolve(opt.goto, ref[0])
                if target is None:
                    return False
                if opt.set_country:
                    country = None if opt.set_country == "unset" else opt.set_country
                    self.state = replace(self.state, country=country)
                    self.effects.append(Effect("profile", {"country": country}))
                # Pressing a button of an older message moves from where the user really is.
                self.goto(target)
                return True
        return False

    def stale(self) -> None:
        self.say(self.s.get(_("This menu has changed. Here is the current one.")))
        self.show_current()

    def on_contact(self, phone: str, *, own: bool) -> None:
        if self.state.form is not None:
            self.on_form_contact(phone, own=own)
            return
        self.say(
            self.s.get(_("Thank you, but I did not ask for a phone number. Nothing was saved."))
        )
        self.show_current()

    def on_text(self, text: str) -> None:
        stripped = text.strip()
        command = COMMANDS.get(stripped.split(maxsplit=1)[0].lower()) if stripped else None
        if command:
            self.on_command(command)
            return
        if stripped.lower().startswith("/start"):
            self.on_start(StartEvent(type="start"))
            return
        if self.state.reply_to is not None:
            self.on_reply_text(stripped)
            return
        if self.state.form is not None:
            self.on_form_text(stripped)
            return
        matches = list(self.answer(stripped, self.lc.lang)) if self.answer else []
        matches = [m for m in matches if m.article_id in self.lc.articles]
        if self.emergency is not None and self.emergency(stripped):
            # Danger first: the emergency entry (hotlines, the consulate), then what fits best.
            self.state = replace(self.state, urgent=True)
            self.goto(self.menu_ref("emergency"))
            if matches:
                self.show_article_answer(matches[0].article_id)
            return
        confident = [m for m in matches if m.confident]
        if not confident:
            # Not sure: say so, offer the likeliest topics and the consulate, and tell editors
            # (the content gap report) that this question found no answer.
            self.effects.append(Effect("unanswered", {"text": stripped, "lang": self.lc.lang}))
            buttons = [
                [
                    Button(
                        str(self.lc.articles[m.article_id].title),
                        data=f"a.{self.content.version}.{m.article_id}",
                    )
                ]
                for m in matches[:3]
            ]
            consul = self.consular_request_node()
            if consul is not None:
                buttons.append([Button(self.s.get(_("Ask the consulate")), data="g.consul")])
            buttons.append(
                [
                    Button("☰ " + self.s.get(_("Menu")), data="g.menu"),
                    Button("🆘 " + self.s.get(_("I need help now")), data="g.sos"),
                ]
            )
            text = (
                _("I am not sure I understood. Perhaps one of these topics helps:")
                if matches
                else _(
                    "Sorry, I did not understand. Choose a topic from the "
                    "menu, or write your question in other words."
                )
            )
            self.say(self.s.get(text), buttons)
            return
        best, others = confident[0], confident[1:3]
        self.show_article_answer(best.article_id, also=[m.article_id for m in others])

    def consular_request_node(self) -> NodeRef | None:
        """The node that starts a request to the consulate (the emergency tree's first)."""
        emergency_tree = self.menu_ref("emergency")[0]
        candidates = [
            ref
            for ref, node in self.lc.nodes.items()
            if isinstance(node, ActionNode) and node.action == "request_consular_contact"
        ]
        candidates.sort(key=lambda ref: ref[0] != emergency_tree)
        return candidates[0] if candidates else None

    # -- navigation ------------------------------------------------------------------------------

    def goto(self, ref: NodeRef, *, push: bool = True, reset: bool = False) -> None:
        # The main menu is the root: reaching it, however, starts the way back afresh.
        history = [] if reset or ref == self.menu_ref("main") else list(self.state.history)
        if (
            push
            and self.state.node
            and self.state.node != _key(ref)
            and ref != self.menu_ref("main")
        ):
            history = [*history, self.state.node][-HISTORY_LIMIT:]
        node = self.lc.nodes[ref]
        quiz, score = self.state.quiz, self.state.score
        if isinstance(node, QuestionNode) and (node.first or node.quiz != quiz):
            quiz, score = node.quiz, 0
        self.state = replace(self.state, node=_key(ref), history=history, quiz=quiz, score=score)
        self.render(ref, node)

    def back(self) -> None:
        history = list(self.state.history)
        while history:
            ref = _ref(history.pop())
            node = self.lc.nodes.get(ref)
            # Stepping back into a quiz would resume it with a wrong score: skip its questions.
            if node is not None and not isinstance(node, QuestionNode):
                self.state = replace(self.state, history=history)
                self.goto(ref, push=False)
                return
        self.state = replace(self.state, history=[])
        self.goto(self.menu_ref("main"), push=False)

    def show_current(self) -> None:
        if self.state.node:
            ref = _ref(self.state.node)
            self.render(ref, self.lc.nodes[ref])
        else:
            self.goto(self.menu_ref("main"), push=False)

    # -- rendering -------------------------------------------------------------------------------

    def nav_row(self, ref: NodeRef) -> list[Button]:
        """Back, Menu and "I need help now", except where the node itself already offers one
        (an option to the main menu, or into the emergency tree)."""
        main = self.menu_ref("main")
        node = self.lc.nodes[ref]
        targets = {
            self.lc.resolve(o.goto, ref[0])
            for o in (node.answers if isinstance(node, QuestionNode) else node.options)
        }
        row = []
        if self.state.history:
            row.append(Button("⬅ " + self.s.get(_("Back")), data="g.back"))
        if ref != main and main not in targets:
            row.append(Button("☰ " + self.s.get(_("Menu")), data="g.menu"))
        emergency_tree = self.menu_ref("emergency")[0]
        if ref[0] != emergency_tree and not any(t and t[0] == emergency_tree for t in targets):
            row.append(Button("🆘 " + self.s.get(_("I need help now")), data="g.sos"))
        return row

    def option_buttons(
        self, ref: NodeRef, options: Sequence[Option | Answer]
    ) -> list[list[Button]]:
        node_key = self.content.key_by_node[ref]
        return [
            [Button(str(o.label), data=f"n.{self.content.version}.{node_key}.{option_key(o, i)}")]
            for i, o in enumerate(options)
        ]

    def render(self, ref: NodeRef, node: Node) -> None:
        nav = self.nav_row(ref)
        if isinstance(node, QuestionNode):
            self.say(str(node.text), [*self.option_buttons(ref, node.answers), nav])
            return
        buttons = [*self.option_buttons(ref, node.options), nav]
        if isinstance(node, MessageNode):
            self.say(str(node.text), buttons)
        elif isinstance(node, ArticleNode):
            self.say(self.article_text(node.article), buttons)
        elif isinstance(node, ContactsNode):
            self.say_contacts(str(node.text), node, buttons)
        elif isinstance(node, VerdictNode):
            band = next((b for b in node.bands if b.min <= self.state.score <= b.max), None)
            text = str(node.text) + (f"\n\n{band.text}" if band else "")
            self.say(text, buttons)
        elif isinstance(node, ActionNode):
            self.start_form(node)

    def article_text(self, article_id: str) -> str:
        article = self.lc.articles[article_id]
        text = f"**{article.title}**\n\n{article.body}"
        if article.reviewed:
            text += "\n\n" + self.s.get(_("Checked: {date}"), date=self.s.date(article.reviewed))
        if article_id in self.lc.untranslated:
            text += "\n\n" + self.s.get(_("(Part of this text is not yet translated.)"))
        return text

    def show_article_answer(self, article_id: str, also: Sequence[str] = ()) -> None:
        buttons = [
            [Button(str(self.lc.articles[a].title), data=f"a.{self.content.version}.{a}")]
            for a in also
        ]
        buttons.append(
            [
                Button("☰ " + self.s.get(_("Menu")), data="g.menu"),
                Button("🆘 " + self.s.get(_("I need help now")), data="g.sos"),
            ]
        )
        self.say(self.article_text(article_id), buttons)

    def say_contacts(self, text: str, node: ContactsNode, buttons: list[list[Button]]) -> None:
        country = node.country or self.state.country
        contacts = [
            c
            for c in self.lc.contacts
            if (not node.kinds or c.kind in node.kinds)
            and (c.country == country or country in c.serves if country else c.country == "kg")
        ]
        blocks = [format_contact(c, self.s) for c in contacts]
        if contacts:
            text += "\n" + self.s.plural("{n} contact", "{n} contacts", len(contacts))
        if not country:
            blocks.append(
                self.s.get(_("Choose your destination in the menu to see the consulates there."))
            )
        elif not any(c.country == country or country in c.serves for c in contacts):
            blocks.append(
                self.s.get(_("No contacts for this country yet. Ask the consulate through Jol."))
            )
        self.say("\n\n".join([text, *blocks]), buttons)


def format_contact(contact: Contact, s: Strings) -> str:
    lines = [f"**{contact.name}**"]
    if contact.city:
        lines.append(str(contact.city))
    if contact.address:
        lines.append(s.get(_("Address: {address}"), address=contact.address))
    if contact.phones:
        lines.append(s.get(_("Phone: {phones}"), phones=", ".join(contact.phones)))
    if contact.email:
        lines.append(s.get(_("E-mail: {email}"), email=contact.email))
    if contact.website:
        lines.append(contact.website)
    if contact.hours:
        lines.append(s.get(_("Hours: {hours}"), hours=contact.hours))
    if contact.note:
        lines.append(str(contact.note))
    missing = [f for f in contact.unverified if f in ("address", "phones")]
    if missing:
        lines.append(s.get(_("(Address and phone not yet verified: check the official website.)")))
    return "\n".join(lines)
