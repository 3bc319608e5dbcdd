from __future__ import annotations

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from app.telegram.render import markup_to_html, plain_length, split_markup
from bot.backend import Button, Reply
from bot.render import KEYBOARD_ONLY_TEXT, inline_keyboard, plan_messages


def test_markup_becomes_escaped_html() -> None:
    assert markup_to_html('**Bold** & <not a tag> [site](https://a.kg/?x=1&y="2")') == (
        '<b>Bold</b> &amp; &lt;not a tag&gt; <a href="https://a.kg/?x=1&amp;y=&quot;2&quot;">'
        "site</a>"
    )
    assert markup_to_html("**a [b](https://b.kg)**") == '<b>a <a href="https://b.kg">b</a></b>'
    # Unbalanced markup stays literal (and escaped): never broken HTML.
    assert markup_to_html("2 ** 3 < 9 [x](javascript:alert)") == (
        "2 ** 3 &lt; 9 [x](javascript:alert)"
    )


def test_plain_length_counts_what_telegram_counts() -> None:
    assert plain_length("**ab** [cd](https://x.kg) <&>") == len("ab cd <&>")


def test_split_keeps_paragraphs_and_fits() -> None:
    text = "\n\n".join(["**" + "a" * 3000 + "**", "b" * 3000, "c" * 50])
    parts = split_markup(text)
    assert parts == ["**" + "a" * 3000 + "**", "b" * 3000 + "\n\n" + "c" * 50]
    long_line = " ".join(["word"] * 2000)  # 9999 characters, no paragraph break
    parts = split_markup(long_line)
    assert all(plain_length(p) <= 4096 for p in parts)
    assert " ".join(parts) == long_line


def test_buttons_with_oversized_data_are_dropped() -> None:
    keyboard = inline_keyboard(
        [
            [Button("ok", "g.menu")],
            [Button("big", "x" * 65)],
            [Button("site", url="https://migrant.kg")],
        ]
    )
    assert isinstance(keyboard, InlineKeyboardMarkup)
    assert [[b.text for b in row] for row in keyboard.inline_keyboard] == [["ok"], ["site"]]


def test_contact_request_then_removal() -> None:
    ask = Reply("Share your phone.", [[Button("Cancel", "c.cancel")]], "Share my phone number")
    messages, shown = plan_messages([ask], contact_keyboard_shown=False)
    assert shown is True
    assert [m.html for m in messages] == ["Share your phone.", KEYBOARD_ONLY_TEXT]
    assert isinstance(messages[0].markup, ReplyKeyboardMarkup)
    assert messages[0].markup.keyboard[0][0].request_contact is True
    assert isinstance(messages[1].markup, InlineKeyboardMarkup)

    done = Reply("Passed on.", [[Button("Menu", "g.menu")]])
    messages, shown = plan_messages([done], contact_keyboard_shown=True)
    assert shown is False
    assert isinstance(messages[0].markup, ReplyKeyboardRemove)
    assert isinstance(messages[1].markup, InlineKeyboardMarkup)

    plain = Reply("Hi", [[Button("Menu", "g.menu")]])
    messages, _ = plan_messages([plain], contact_keyboard_shown=False)
    assert len(messages) == 1 and isinstance(messages[0].markup, InlineKeyboardMarkup)


def test_a_long_reply_becomes_several_messages_with_buttons_on_the_last() -> None:
    reply = Reply("\n\n".join(["x" * 4000, "y" * 4000]), [[Button("Menu", "g.menu")]])
    messages, _ = plan_messages([reply], contact_keyboard_shown=False)
    assert [len(m.html) for m in messages] == [4000, 4000]
    assert messages[0].markup is None and isinstance(messages[1].markup, InlineKeyboardMarkup)
