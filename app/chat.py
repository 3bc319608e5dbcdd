"""`jol chat`: a terminal front end on the conversation API, so editors can walk every tree.

Buttons are numbered: type the number to press one. Anything else is sent as text (commands such
as /menu, /back, /language, /help, /sos work as in Telegram). `/phone +996...` shares a phone
number as Telegram's contact button would; `/quit` leaves.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import httpx

from app.markup import TOKEN


def render_plain(text: str, *, ansi: bool) -> str:
    """The markup for a terminal: bold as ANSI bold (or plain), links as 'label (url)'."""

    def token(match: re.Match[str]) -> str:
        if match.group("bold") is not None:
            inner = render_plain(match.group("bold"), ansi=ansi)
            return f"\033[1m{inner}\033[0m" if ansi else inner
        return f"{match.group('label')} ({match.group('url')})"

    return TOKEN.sub(token, text)


def render_replies(replies: list[dict[str, Any]], *, ansi: bool) -> tuple[str, list[str]]:
    """Text to print and the button data by number (1-based)."""
    lines: list[str] = []
    buttons: list[str] = []
    for reply in replies:
        lines.append(render_plain(reply["text"], ansi=ansi))
        for row in reply["buttons"]:
            for button in row:
                if button.get("data"):
                    buttons.append(button["data"])
                    lines.append(f"  [{len(buttons)}] {button['label']}")
                elif button.get("url"):
                    lines.append(f"  ({button['label']}: {button['url']})")
        if reply.get("contact_request"):
            lines.append(f"  <{reply['contact_request']}: type /phone +996...>")
        lines.append("")
    return "\n".join(lines), buttons


def line_to_event(line: str, buttons: list[str]) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    if line.isdigit() and 1 <= int(line) <= len(buttons):
        return {"type": "button", "data": buttons[int(line) - 1]}
    if line.startswith("/phone"):
        return {"type": "contact", "phone": line.removeprefix("/phone").strip() or "0", "own": True}
    if line.startswith("/start"):
        return {"type": "start"}
    return {"type": "text", "text": line[:4096]}


async def chat(
    client: httpx.AsyncClient,
    *,
    user: str,
    lang: str,
    token: str,
    read: Callable[[], str] = input,
    write: Callable[[str], None] = print,
    ansi: bool = False,
) -> None:
    url = f"/v1/conversations/terminal/{user}/events"
    headers = {"Authorization": f"Bearer {token}"}
    buttons: list[str] = []

    async def send(event: dict[str, Any]) -> None:
        nonlocal buttons
        response = await client.post(url, json=event, headers=headers)
        if response.status_code != 200:
            write(f"! {response.status_code}: {response.json()['error']['message']}")
            return
        text, buttons = render_replies(response.json()["replies"], ansi=ansi)
        write(text)

    await send({"type": "start", "language_hint": lang})
    await send({"type": "language", "lang": lang})
    while True:
        try:
            line = read()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if line.strip() in ("/quit", "/exit"):
            return
        event = line_to_event(line, buttons)
        if event is not None:
            await send(event)


def is_tty() -> bool:
    return sys.stdout.isatty()
