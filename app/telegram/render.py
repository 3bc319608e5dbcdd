"""The rendering rules for Telegram, shared by the bot adapter and the backend's sender.

The backend's markup is small (``**bold**``, ``[label](https://url)``, blank lines between
paragraphs); everything else is escaped, so content and user text can hold ``<`` and ``&``.
"""

from __future__ import annotations

import html
import re
from typing import Any

TEXT_LIMIT = 4096  # characters after entity parsing
CALLBACK_DATA_LIMIT = 64  # bytes

_TOKEN = re.compile(
    r"\*\*(?P<bold>.+?)\*\*|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)", re.S
)


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
    """Split at paragraphs (then lines, then words, then anywhere) so each part fits."""
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


def inline_keyboard(rows: list[list[dict[str, Any]]]) -> dict[str, Any] | None:
    """Bot API InlineKeyboardMarkup from {label, data|url} buttons; oversized data is dropped."""
    keyboard = []
    for row in rows:
        out = []
        for button in row:
            if button.get("url"):
                out.append({"text": button["label"], "url": button["url"]})
            elif 1 <= len(str(button.get("data") or "").encode()) <= CALLBACK_DATA_LIMIT:
                out.append({"text": button["label"], "callback_data": button["data"]})
        if out:
            keyboard.append(out)
    return {"inline_keyboard": keyboard} if keyboard else None
