"""Replies -> Telegram messages: HTML, splitting at 4096 characters, keyboards, callback data.

The backend's markup is small (``**bold**``, ``[label](https://url)``, blank lines between
paragraphs); everything else is escaped, so content and user text can hold ``<`` and ``&``.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.backend import Button, Reply

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # characters after entity parsing
CALLBACK_DATA_LIMIT = 64  # bytes
# Telegram needs some text on a message that only carries a keyboard.
KEYBOARD_ONLY_TEXT = "⬇️"

_TOKEN = re.compile(
    r"\*\*(?P<bold>.+?)\*\*|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)", re.S
)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def markup_to_html(text: str) -> str:
    """The backend's markup as Telegram HTML; anything unmatched stays literal and escaped."""
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(html.escape(text[position : match.start()], quote=False))
        if match.group("bold") is not None:
            out.append(f"<b>{markup_to_html(match.group('bold'))}</b>")
        else:
            href = html.escape(match.group("url"), quote=True)
            out.append(f'<a href="{href}">{html.escape(match.group("label"), quote=False)}</a>')
        position = match.end()
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)


def plain_length(text: str) -> int:
    """Length of the text Telegram counts: the markup's visible characters."""
    return len(_TOKEN.sub(lambda m: m.group("bold") or m.group("label"), text))


def split_markup(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at paragraphs (then lines, then anywhere) so each part fits one message."""
    if plain_length(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if plain_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = ""
        while plain_length(paragraph) > limit:
            cut = paragraph.rfind("\n", 0, limit)
            if cut <= 0:
                cut = paragraph.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            parts.append(paragraph[:cut])
            paragraph = paragraph[cut:].lstrip()
        current = paragraph
    if current:
        parts.append(current)
    return parts


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
