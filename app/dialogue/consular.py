"""The dialogue side of consular requests: the form, the status, answering staff, forgetting.

A mixin of the engine's turn (`engine._Turn`): pure like the rest, it only asks for effects
(`consular_request`, `consular_cancel`, `consular_message`, `forget`) that the service carries out.

Button data: ``fc.<country>`` ``fk.<category>`` ``fs.<field>`` (skip) ``fy`` (consent) for the
form; ``q.<id>`` cancel a request, ``r.<id>`` answer the consulate; ``x.yes|no`` forget me.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from babel import Locale

from app.content.schema import ActionNode, ContactsNode
from app.dialogue.types import Button, Effect, State
from app.i18n import _

if TYPE_CHECKING:
    from app.content.model import LanguageContent, NodeRef
    from app.content.schema import Answer, Option
    from app.i18n import Strings

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{5,20}$")
CITY_LIMIT = 100
DESCRIPTION_LIMIT = 1000
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("passport_taken", _("My passport was taken")),
    ("unpaid", _("I am not paid")),
    ("locked_in", _("I am not allowed to leave")),
    ("injured", _("I was injured")),
    ("detained", _("I was detained")),
    ("lost_documents", _("I lost my documents")),
    ("other", _("Something else")),
)
STATUS_NAMES = {
    "new": _("received"),
    "in_progress": _("in progress"),
    "answered": _("answered"),
}


@dataclass(frozen=True)
class RequestInfo:
    """What the engine may know of the user's open requests (the service looks them up)."""

    id: int
    status: str
    country: str | None


def country_name(code: str, lang: str) -> str:
    """The country's name in the language, from CLDR (Babel)."""
    return str(Locale.parse(lang).territories.get(code.upper(), code.upper()))


def is_phone(text: str) -> bool:
    return bool(PHONE_RE.match(text)) and 7 <= len(re.sub(r"\D", "", text)) <= 15


class ConsularFlow:
    """Mixed into the engine's turn, which provides what is declared here."""

    requests: Sequence[RequestInfo]
    state: State
    effects: list[Effect]

    if TYPE_CHECKING:

        @property
        def lc(self) -> LanguageContent: ...
        @property
        def s(self) -> Strings: ...
        def say(
            self,
            text: str,
            buttons: list[list[Button]] | None = None,
            contact_request: str | None = None,
        ) -> None: ...
        def say_in(self, lang: str, message: str) -> None: ...
        def say_contacts(
            self, text: str, node: ContactsNode, buttons: list[list[Button]]
        ) -> None: ...
        def option_buttons(
            self, ref: NodeRef, options: Sequence[Option | Answer]
        ) -> list[list[Button]]: ...
        def nav_row(self, ref: NodeRef) -> list[Button]: ...
        def show_current(self) -> None: ...
        def ref_of(self, key: str) -> NodeRef: ...

    # -- the form --------------------------------------------------------------------------------

    def cancel_button(self) -> list[Button]:
        return [Button(self.s.get(_("Cancel")), data="c.cancel")]

    def start_form(self, node: ActionNode) -> None:
        """Show the consulate's contacts at once, whatever happens next; then ask."""
        self.state = replace(self.state, form={"country": self.state.country})
        if self.state.country:
            contacts = ContactsNode(
                type="contacts", id="form", text=str(node.text), kinds=["embassy", "consulate"]
            )
            self.say_contacts(str(node.text), contacts, [])
        else:
            self.say(str(node.text))
        self.form_prompt()

    def form_data(self) -> dict[str, Any]:
        return dict(self.state.form or {})

    def form_prompt(self) -> None:
        data = self.form_data()
        cancel = self.cancel_button()
        if not data.get("country"):
            countries = sorted(
                {
                    c.country
                    for c in self.lc.contacts
                    if c.kind in ("embassy", "consulate") and c.country != "kg"
                }
            )
            self.say(
                self.s.get(_("In which country are you now?")),
                [[Button(country_name(c, self.lc.lang), data=f"fc.{c}")] for c in countries]
                + [cancel],
            )
        elif "city" not in data:
            self.say(
                self.s.get(_("In which city are you? Write it, or press Skip.")),
                [[Button(self.s.get(_("Skip")), data="fs.city")], cancel],
            )
        elif "category" not in data:
            self.say(
                self.s.get(_("What happened?")),
                [[Button(self.s.get(label), data=f"fk.{key}")] for key, label in CATEGORIES]
                + [cancel],
            )
        elif "description" not in data:
            self.say(
                self.s.get(
                    _(
                        "Describe in a few words what happened, or press Skip. Do not "
                        "write passwords or bank card numbers."
                    )
                ),
                [[Button(self.s.get(_("Skip")), data="fs.description")], cancel],
            )
        elif "phone" not in data:
            self.say(
                self.s.get(
                    _(
                        "How can the consulate reach you? Share your phone number "
                        "with the button below, or write it with the country code."
                    )
                ),
                [cancel],
                contact_request=self.s.get(_("Share my phone number")),
            )
        else:
            self.say(
                self.s.get(
                    _(
                        "Jol will pass your phone number, city and what you wrote to "
                        "the consular staff of Kyrgyzstan for {country}. They will use "
                        "it only to contact and help you. Do you agree?"
                    ),
                    country=country_name(data["country"], self.lc.lang),
                ),
                [[Button(self.s.get(_("Yes, send it")), data="fy")], cancel],
            )

    def on_form_button(self, kind: str, rest: str) -> bool:
        if self.state.form is None:
            return False
        data = self.form_data()
        if kind == "fc" and re.fullmatch(r"[a-z]{2}", rest):
            data["country"] = rest
        elif kind == "fk" and rest in dict(CATEGORIES):
            data["category"] = rest
        elif kind == "fs" and rest in ("city", "description"):
            data[rest] = None
        elif kind == "fy" and "phone" in data:
            self.file_request(data)
            return True
        else:
            return False
        self.state = replace(self.state, form=data)
        self.form_prompt()
        return True

    def on_form_text(self, text: str) -> None:
        data = self.form_data()
        if data.get("country") and "city" not in data:
            data["city"] = text[:CITY_LIMIT]
        elif "category" in data and "description" not in data:
            data["description"] = text[:DESCRIPTION_LIMIT]
        elif "description" in data and "phone" not in data:
            if not is_phone(text):
                self.say(
                    self.s.get(
                        _(
                            "This does not look like a phone number. Write it with "
                            "the country code, for example +996 555 123 456, or use "
                            "the button below."
                        )
                    ),
                    [self.cancel_button()],
                    contact_request=self.s.get(_("Share my phone number")),
                )
                return
            data["phone"] = re.sub(r"[^0-9+]", "", text)
        else:
            self.say(self.s.get(_("Please choose with the buttons below.")))
            self.form_prompt()
            return
        self.state = replace(self.state, form=data)
        self.form_prompt()

    def on_form_contact(self, phone: str, *, own: bool) -> None:
        data = self.form_data()
        if "description" not in data or "phone" in data:
            self.say(
                self.s.get(_("Thank you, but I did not ask for a phone number. Nothing was saved."))
            )
            self.form_prompt()
            return
        if not own:
            self.say(
                self.s.get(_("Please share your own number, with the button below.")),
                contact_request=self.s.get(_("Share my phone number")),
                buttons=[self.cancel_button()],
            )
            return
        data["phone"] = re.sub(r"[^0-9+]", "", phone)
        self.state = replace(self.state, form=data)
        self.form_prompt()

    def file_request(self, data: dict[str, Any]) -> None:
        self.effects.append(
            Effect(
                "consular_request",
                {
                    "country": data.get("country"),
                    "city": data.get("city"),
                    "category": data.get("category"),
                    "description": data.get("description"),
                    "phone": data["phone"],
                    "lang": self.lc.lang,
                    "urgent": self.state.urgent,
                },
            )
        )
        self.state = replace(self.state, form=None, urgent=False)
        self.after_action(
            self.s.get(
                _(
                    "Your request has been passed on. Consular staff will "
                    "contact you. If you are in danger now, call the local "
                    "police."
                )
            )
            + "\n\n"
            + self.s.get(_("See its status, or cancel it, with /request."))
        )

    def cancel_form(self) -> bool:
        self.state = replace(self.state, form=None, reply_to=None)
        self.after_action(self.s.get(_("Cancelled. Nothing was sent.")))
        return True

    def after_action(self, text: str) -> None:
        """Close an action: the node's options, without starting the form again."""
        ref = self.state.node and self.ref_of(self.state.node)
        node = self.lc.nodes.get(ref) if ref else None
        if ref and isinstance(node, ActionNode):
            self.say(text, [*self.option_buttons(ref, node.options), self.nav_row(ref)])
        else:
            self.say(text)
            self.show_current()

    # -- status, cancel, answering the consulate --------------------------------------------------

    def show_requests(self) -> None:
        if not self.requests:
            self.say(
                self.s.get(_("You have no open request to the consulate.")),
                [[Button("☰ " + self.s.get(_("Menu")), data="g.menu")]],
            )
            return
        lines, buttons = [], []
        for r in self.requests:
            where = country_name(r.country, self.lc.lang) if r.country else "—"
            lines.append(
                self.s.get(
                    _("Request #{id} ({country}): {status}"),
                    id=r.id,
                    country=where,
                    status=self.s.get(STATUS_NAMES.get(r.status, r.status)),
                )
            )
            buttons.append(
                [
                    Button(self.s.get(_("Answer #{id}"), id=r.id), data=f"r.{r.id}"),
                    Button(self.s.get(_("Cancel #{id}"), id=r.id), data=f"q.{r.id}"),
                ]
            )
        buttons.append([Button("☰ " + self.s.get(_("Menu")), data="g.menu")])
        self.say("\n".join(lines), buttons)

    def own_request(self, rest: str) -> int | None:
        if not rest.isdigit():
            return None
        request_id = int(rest)
        return request_id if any(r.id == request_id for r in self.requests) else None

    def on_request_button(self, kind: str, rest: str) -> bool:
        request_id = self.own_request(rest)
        if request_id is None:
            return False
        if kind == "q":
            self.effects.append(Effect("consular_cancel", {"id": request_id}))
            self.say(
                self.s.get(_("Request #{id} is cancelled."), id=request_id),
                [[Button("☰ " + self.s.get(_("Menu")), data="g.menu")]],
            )
        else:
            self.state = replace(self.state, reply_to=request_id, form=None)
            self.say(self.s.get(_("Write your message to the consulate:")), [self.cancel_button()])
        return True

    def on_reply_text(self, text: str) -> None:
        assert self.state.reply_to is not None
        self.effects.append(
            Effect("consular_message", {"id": self.state.reply_to, "text": text[:3500]})
        )
        self.state = replace(self.state, reply_to=None)
        self.say(
            self.s.get(_("Sent to the consulate.")),
            [[Button("☰ " + self.s.get(_("Menu")), data="g.menu")]],
        )

    # -- forget me --------------------------------------------------------------------------------

    def ask_forget(self) -> None:
        self.say(
            self.s.get(
                _(
                    "Jol will erase everything it holds about you: your language and "
                    "destination, where you are in the dialogue, and the personal "
                    "details of your requests to the consulate. Erase everything?"
                )
            ),
            [
                [Button(self.s.get(_("Yes, erase everything")), data="x.yes")],
                [Button(self.s.get(_("No, keep it")), data="x.no")],
            ],
        )

    def on_forget_button(self, rest: str) -> bool:
        if rest == "yes":
            self.effects.append(Effect("forget", {}))
            lang = self.lc.lang
            self.state = State()
            self.say_in(lang, _("Done: Jol has forgotten you. Send /start to begin again."))
            return True
        if rest == "no":
            self.say(self.s.get(_("Nothing was erased.")))
            self.show_current()
            return True
        return False
