"""The rendering rules for Telegram, shared by the bot adapter and the backend's sender.

The markup (`app.markup`) becomes Telegram HTML; everything else is escaped, so content and
user text can hold ``<`` and ``&``.
"""

from __future__ import annotations

import html
from typing import Any

from app.markup import TEXT_LIMIT, TOKEN, plain_length, split_markup

__all__ = ["TEXT_LIMIT", "inline_keyboard", "markup_to_html", "plain_length", "split_markup"]

CALLBACK_DATA_LIMIT = 64  # bytes


def markup_to_html(text: str) -> str:
    """The backend's markup as Telegram HTML; anything unmatched stays literal and escaped."""
    out: list[str] = []
    position = 0
    for match in TOKEN.finditer(text):
        out.append(html.escape(text[position : match.start()], quote=False))
        if match.group("bold") is not None:
            out.append(f"<b>{markup_to_html(match.group('bold'))}</b>")
        else:
            href = html.escape(match.group("url"), quote=True)
            out.append(f'<a href="{href}">{html.escape(match.group("label"), quote=False)}</a>')
        position = match.end()
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)


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
