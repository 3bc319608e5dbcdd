"""Telegram Bot API test double: a spec-validating fake Bot API server for end-to-end tests.

See `server.TelegramDouble` (the server), `server.ScriptedUser` (users that drive the bot),
`spec.Spec` (the validator over the Bot API 10.1 spec) and `html.parse_html` (Telegram HTML).
"""

from .html import HtmlParseError, ParsedText, parse_html, parse_text
from .server import (
    DEFAULT_TOKEN,
    BotMessage,
    RecordedRequest,
    ScriptedUser,
    TelegramDouble,
    Violation,
    measure_ceiling,
)
from .spec import Issue, Spec, load_spec

__all__ = [
    "DEFAULT_TOKEN",
    "BotMessage",
    "HtmlParseError",
    "Issue",
    "ParsedText",
    "RecordedRequest",
    "ScriptedUser",
    "Spec",
    "TelegramDouble",
    "Violation",
    "load_spec",
    "measure_ceiling",
    "parse_html",
    "parse_text",
]
