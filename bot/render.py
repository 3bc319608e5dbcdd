"""Replies -> Telegram messages with python-telegram-bot's types: keyboards, the contact button.

The text rules (HTML escaping, splitting at 4096 characters) are shared with the backend's own
sender, in `app.telegram.render`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from app.telegram.render import (
    CALLBACK_DATA_LIMIT,
    markup_to_html,
    split_markup,
)
from bot.backend import Button, Reply

log = logging.getLogger(__name__)

# Telegram needs some text on a message that only carries a keyboard.
KEYBOARD_ONLY_TEXT = "⬇️"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def _button(button: Button) -> InlineKeyboardButton | None:
    if button.url:
        return InlineKeyboardButton(button.label, url=button.url)
    data = button.data or ""
    if not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
        log.error("dropped a button whose data does not fit Telegram: %r", data)
        return None
    return InlineKeyboardButton(button.label, callback_data=data)


def inline_keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    keyboard = [[b for b in map(_button, row) if b is not None] for row in rows]
    keyboard = [row for row in keyboard if row]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def contact_keyboard(label: str) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


@dataclass(frozen=True)
class Outgoing:
    """One Telegram message to send: HTML text and at most one reply markup."""

    html: str
    markup: Markup | None = None


def plan_messages(
    replies: list[Reply], *, contact_keyboard_shown: bool
) -> tuple[list[Outgoing], bool]:
    """The messages for the replies, and whether a contact keyboard is shown afterwards.

    A Telegram message carries one markup: inline buttons, or a reply keyboard (the contact
    button), or the removal of one. Where a reply needs both, its text carries the reply keyboard
    change and its buttons follow in a message of their own.
    """
    out: list[Outgoing] = []
    shown = contact_keyboard_shown
    for reply in replies:
        chunks = split_markup(reply.text)
        keyboard = inline_keyboard(reply.buttons)
        change: Markup | None = None
        if reply.contact_request:
            change, shown = contact_keyboard(reply.contact_request), True
        elif shown:
            change, shown = ReplyKeyboardRemove(), False
        for chunk in chunks[:-1]:
            out.append(Outgoing(markup_to_html(chunk)))
        last = markup_to_html(chunks[-1])
        if change is not None and keyboard is not None:
            out.append(Outgoing(last, change))
            out.append(Outgoing(KEYBOARD_ONLY_TEXT, keyboard))
        else:
            out.append(Outgoing(last, change or keyboard))
    return out, shown
