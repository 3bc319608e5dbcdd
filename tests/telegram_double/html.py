"""Telegram's HTML parse mode, as documented in https://core.telegram.org/bots/api#html-style.

`parse_html` turns message HTML into the plain text Telegram would store plus its entities
(offsets and lengths in UTF-16 code units, like the Bot API), or raises `HtmlParseError` with a
message in the style of Telegram's "can't parse entities" errors.

Deliberately *stricter* than the real server in two documented respects, because both are bugs in
a bot even though Telegram renders something:

* `&` that does not start one of `&lt; &gt; &amp; &quot;` or a numeric entity is an error (Telegram
  shows such text literally, e.g. the user sees "&nbsp;");
* the documented nesting rules are errors: nothing may be nested inside `<code>`/`<pre>` (except
  `<pre><code class="language-x">`), and blockquotes may not be nested (Telegram silently drops the
  inner entities).

A bare `>` is accepted by default (Telegram accepts it); pass `strict_gt=True` to reject it as the
documentation asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# tag -> MessageEntity type
ENTITY_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
ALLOWED_TAGS = frozenset(ENTITY_TYPES)
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.-]*")
_ENTITY = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]*));")
_UNQUOTED_VALUE = re.compile(r"[^\s\"'=<>`]+")
_DATE_TIME_FORMAT = re.compile(r"r|w?[dD]?[tT]?")


class HtmlParseError(ValueError):
    """The text cannot be parsed as Telegram HTML (Telegram: 400 "can't parse entities")."""


@dataclass
class ParsedText:
    """Plain text as Telegram stores it, with its entities (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Open:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output
    start_index: int  # index into the output characters
    byte_offset: int
    language: str | None = None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of MessageEntity.offset/length."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, i: int) -> tuple[str, int]:
    """Decode the entity at source[i] == '&'; return (char, next index) or raise."""
    m = _ENTITY.match(source, i)
    if m is None:
        raise HtmlParseError(
            f'Unescaped "&" at byte offset {_byte_offset(source, i)}: write it as &amp;'
        )
    dec, hexa, name = m.groups()
    if name is not None:
        if name not in NAMED_ENTITIES:
            raise HtmlParseError(
                f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(source, i)}: '
                "only &lt; &gt; &amp; &quot; and numeric entities are supported"
            )
        return NAMED_ENTITIES[name], m.end()
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HtmlParseError(
            f"Invalid numeric HTML entity at byte offset {_byte_offset(source, i)}"
        )
    return chr(code), m.end()


def _decode_attr_value(source: str, raw: str, offset: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "&":
            try:
                ch, nxt = _decode_entity(raw, i)
            except HtmlParseError as exc:
                raise HtmlParseError(
                    f"{exc} (in an attribute value near byte offset {_byte_offset(source, offset)})"
                ) from None
            out.append(ch)
            i = nxt
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _parse_start_tag(source: str, i: int) -> tuple[str, dict[str, str], int]:
    """Parse `<name attr="v" ...>` at source[i] == '<'; return (name, attrs, next index)."""
    offset = _byte_offset(source, i)
    m = _TAG_NAME.match(source, i + 1)
    if m is None:
        raise HtmlParseError(
            f'Unsupported start tag "" at byte offset {offset}: a bare "<" must be written as &lt;'
        )
    name = m.group(0).lower()
    j = m.end()
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {offset}')
        if source[j] == ">":
            j += 1
            break
        if source[j] == "/":
            raise HtmlParseError(
                f'Self-closing tag "{name}" at byte offset {offset} is not supported'
            )
        am = _ATTR_NAME.match(source, j)
        if am is None:
            raise HtmlParseError(
                f'Empty attribute name in the tag "{name}" at byte offset {offset}'
            )
        attr = am.group(0).lower()
        j = am.end()
        while j < n and source[j].isspace():
            j += 1
        value = ""
        if j < n and source[j] == "=":
            j += 1
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {offset}')
            if source[j] in "\"'":
                quote = source[j]
                end = source.find(quote, j + 1)
                if end < 0:
                    raise HtmlParseError(
                        f'Unclosed attribute value in the tag "{name}" at byte offset {offset}'
                    )
                value = _decode_attr_value(source, source[j + 1 : end], i)
                j = end + 1
            else:
                vm = _UNQUOTED_VALUE.match(source, j)
                if vm is None:
                    raise HtmlParseError(
                        f'Expected a value of attribute "{attr}" in the tag "{name}" '
                        f"at byte offset {offset}"
                    )
                value = _decode_attr_value(source, vm.group(0), i)
                j = vm.end()
        attrs[attr] = value
    return name, attrs, j


def _check_tag(name: str, attrs: dict[str, str], stack: list[_Open], offset: int) -> None:
    if name not in ALLOWED_TAGS:
        raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if name == "tg-emoji" and not re.fullmatch(r"[0-9]+", attrs.get("emoji-id", "")):
        raise HtmlParseError(
            f'Tag "tg-emoji" must have a numeric "emoji-id" attribute at byte offset {offset}'
        )
    if name == "tg-time":
        if not re.fullmatch(r"-?[0-9]+", attrs.get("unix", "")):
            raise HtmlParseError(
                f'Tag "tg-time" must have a numeric "unix" attribute at byte offset {offset}'
            )
        fmt = attrs.get("format")
        if fmt is not None and not _DATE_TIME_FORMAT.fullmatch(fmt):
            raise HtmlParseError(f'Invalid "format" of tag "tg-time" at byte offset {offset}')
    if stack:
        parent = stack[-1]
        if parent.name in ("code", "pre"):
            nested_code = parent.name == "pre" and name == "code"
            if not nested_code or any(o.name == "code" for o in stack):
                raise HtmlParseError(
                    f'Tag "{name}" at byte offset {offset} is nested inside "{parent.name}": '
                    "pre and code entities can't contain other entities"
                )
        if name == "blockquote" and any(o.name == "blockquote" for o in stack):
            raise HtmlParseError(
                f"Blockquote at byte offset {offset} is nested inside another blockquote: "
                "blockquote entities can't be nested"
            )


def _entity_for(opened: _Open, length: int, text: str) -> dict[str, Any] | None:
    if length == 0:
        return None
    kind = ENTITY_TYPES[opened.name]
    entity: dict[str, Any] = {"type": kind, "offset": opened.start, "length": length}
    if opened.name == "a":
        url = opened.attrs.get("href") or text
        if url.startswith("tg://user?id="):
            entity["type"] = "text_mention"
            entity["user"] = {
                "id": int(re.sub(r"\D.*", "", url[len("tg://user?id=") :]) or 0),
                "is_bot": False,
                "first_name": text or "User",
            }
        else:
            entity["url"] = url
    elif opened.name == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif opened.name == "tg-emoji":
        entity["custom_emoji_id"] = opened.attrs["emoji-id"]
    elif opened.name == "tg-time":
        entity["unix_time"] = int(opened.attrs["unix"])
        if "format" in opened.attrs:
            entity["date_time_format"] = opened.attrs["format"]
    return entity


def parse_html(source: str, *, strict_gt: bool = False) -> ParsedText:
    """Parse Telegram HTML into plain text and entities, or raise `HtmlParseError`."""
    out: list[str] = []
    out_len = 0  # UTF-16 length of the output so far
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c == "&":
            ch, i = _decode_entity(source, i)
            out.append(ch)
            out_len += utf16_len(ch)
        elif c == "<":
            offset = _byte_offset(source, i)
            if source.startswith("</", i):
                m = _TAG_NAME.match(source, i + 2)
                if m is None:
                    raise HtmlParseError(f"Unsupported end tag at byte offset {offset}")
                name = m.group(0).lower()
                j = m.end()
                while j < n and source[j].isspace():
                    j += 1
                if j >= n or source[j] != ">":
                    raise HtmlParseError(f'Unclosed end tag "{name}" at byte offset {offset}')
                if not stack:
                    raise HtmlParseError(f'Unexpected end tag "{name}" at byte offset {offset}')
                top = stack[-1]
                if top.name != name:
                    raise HtmlParseError(
                        f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                        f'found "</{name}>"'
                    )
                stack.pop()
                if name == "code" and stack and stack[-1].name == "pre":
                    # <pre><code class="language-x">...</code></pre> is one pre entity.
                    lang = top.attrs.get("class", "")
                    if lang.startswith("language-") and len(lang) > len("language-"):
                        stack[-1].language = lang[len("language-") :]
                else:
                    inner_text = "".join(out[top.start_index :])
                    entity = _entity_for(top, out_len - top.start, inner_text)
                    if entity is not None:
                        if top.language:
                            entity["language"] = top.language
                        entities.append(entity)
                i = j + 1
            else:
                name, attrs, j = _parse_start_tag(source, i)
                _check_tag(name, attrs, stack, offset)
                stack.append(_Open(name, attrs, out_len, len(out), offset))
                i = j
        elif c == ">" and strict_gt:
            raise HtmlParseError(
                f'Unescaped ">" at byte offset {_byte_offset(source, i)}: write it as &gt;'
            )
        else:
            out.append(c)
            out_len += 2 if ord(c) > 0xFFFF else 1
            i += 1
    if stack:
        top = stack[-1]
        raise HtmlParseError(
            f'Can\'t find end tag corresponding to start tag "{top.name}" '
            f"(at byte offset {top.byte_offset})"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


PARSE_MODES = {"html": "HTML", "markdownv2": "MarkdownV2", "markdown": "Markdown"}


def parse_text(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    strict_gt: bool = False,
) -> ParsedText:
    """The text Telegram would store for `text` sent with `parse_mode` (or explicit entities).

    HTML is parsed and validated; Markdown and MarkdownV2 are *not* parsed (the text is kept
    as-is and its length counted as-is), and so is an unknown parse_mode (the spec validator
    reports that separately).
    """
    if entities is not None or not parse_mode:
        return ParsedText(text, list(entities or []))
    if PARSE_MODES.get(parse_mode.lower()) == "HTML":
        return parse_html(text, strict_gt=strict_gt)
    return ParsedText(text, [])
