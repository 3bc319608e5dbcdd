"""What every front end shows besides the dialogue, in the user's language.

* The commands: Telegram lists them in its command menu (setMyCommands per language); the engine
  reads them from text too (see `engine.COMMANDS`).
* Notices a front end gives on its own, when it cannot ask the backend (it is down) or must not
  (a user floods it).
"""

from __future__ import annotations

from app.i18n import _, strings

BOT_COMMANDS: tuple[tuple[str, str], ...] = (
    ("menu", _("Main menu")),
    ("sos", _("I need help now")),
    ("language", _("Change language")),
    ("help", _("How to use Jol")),
    ("request", _("My request to the consulate")),
    ("stop", _("Stop receiving news")),
    ("forget", _("Erase my data")),
)


def localized_commands(lang: str) -> list[dict[str, str]]:
    s = strings(lang)
    return [{"command": name, "description": s.get(text)} for name, text in BOT_COMMANDS]


NOTICES: dict[str, str] = {
    "backend_unavailable": _("Jol is not available right now. Please try again in a minute."),
    "slow_down": _("You are sending messages too fast. Please wait a minute, then write again."),
    "too_long": _("Your message is too long. Please write it shorter."),
    "unsupported": _("I can read text and buttons only. Please write your question."),
}


def notice(lang: str | None, name: str) -> str:
    """A notice in `lang` (ky when the language is unknown)."""
    return strings(lang if lang in ("ky", "ru", "en") else "ky").get(NOTICES[name])
