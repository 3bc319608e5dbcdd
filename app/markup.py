"""The backend's text markup, the same for every channel: ``**bold**``, ``[label](https://url)``,
paragraphs separated by a blank line. Adapters render it (Telegram HTML, plain terminal text);
here are the rules every one of them shares: what a reader sees, and how a long text splits.
"""

from __future__ import annotations

import re

# Telegram's limit, the tightest of our channels: 4096 characters as the reader sees them.
TEXT_LIMIT = 4096

TOKEN = re.compile(
    r"\*\*(?P<bold>.+?)\*\*|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)", re.S
)


def plain_length(text: str) -> int:
    """Length of the text a reader sees: the markup's visible characters."""
    return len(TOKEN.sub(lambda m: m.group("bold") or m.group("label"), text))


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
