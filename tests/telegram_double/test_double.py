"""The Telegram double's own tests: validation can fail, PTB's real requests pass, behaviour."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import telegram
import uvicorn
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, MessageHandler
from telegram.ext import filters as tg_filters

from .html import HtmlParseError, parse_html
from .server import TelegramDouble, _Server, measure_ceiling
from .spec import load_spec

USER = 1001


@pytest.fixture
async def tg() -> AsyncIterator[TelegramDouble]:
    async with TelegramDouble(rate_limit=False) as double:
        yield double
    assert double.internal_errors == []  # every answer of the double matched the spec


@pytest.fixture
async def bot(tg: TelegramDouble) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
        yield b


async def call(
    tg: TelegramDouble, method: str, *, as_json: bool = False, **params: Any
) -> httpx.Response:
    """A raw request, form-encoded like PTB (objects JSON-encoded) or as a JSON body."""
    url = f"{tg.base_url}{tg.token}/{method}"
    async with httpx.AsyncClient() as client:
        if as_json:
            return await client.post(url, json=params)
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        return await client.post(url, data=data)


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


async def assert_violation(
    tg: TelegramDouble, method: str, field: str | None, fragment: str, **params: Any
) -> None:
    before = len(tg.violations)
    response = await call(tg, method, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: ")
    new = tg.violations[before:]
    assert new, "no violation recorded"
    assert any(v.field == field and fragment in v.message for v in new), [str(v) for v in new]


# -- validation fails where it should -----------------------------------------------------------


async def test_unknown_method_is_a_violation(tg: TelegramDouble) -> None:
    response = await call(tg, "sendMesage", chat_id=USER, text="hi")
    # Telegram answers unknown methods with 404 Not Found (PTB raises InvalidToken for it).
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [v.method for v in tg.violations] == ["sendMesage"]
    assert "not a Bot API method" in tg.violations[0].message


async def test_wrong_token_is_a_violation(tg: TelegramDouble) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{tg.base_url}42:nope/getMe")
    assert response.status_code == 401
    assert len(tg.violations) == 1


async def test_unknown_parameter(tg: TelegramDouble) -> None:
    await assert_violation(
        tg, "sendMessage", "reply_to", "unknown parameter", chat_id=USER, text="x", reply_to=5
    )


async def test_missing_required(tg: TelegramDouble) -> None:
    await assert_violation(tg, "sendMessage", "text", "is required", chat_id=USER)
    await assert_violation(tg, "deleteMessage", "message_id", "is required", chat_id=USER)


async def test_wrong_primitive_types(tg: TelegramDouble) -> None:
    await assert_violation(
        tg, "deleteMessage", "message_id", "expected Integer", chat_id=USER, message_id="abc"
    )
    await assert_violation(
        tg,
        "sendMessage",
        "disable_notification",
        "expected Boolean",
        chat_id=USER,
        text="x",
        disable_notification="yes",
    )
    # chat_id is "Integer or String" ("@username"), so a non-username string is not a chat id
    await assert_violation(tg, "sendMessage", "chat_id", "@username", chat_id="abc", text="x")
    # JSON bodies are typed: a string is not an Integer there
    before = len(tg.violations)
    response = await call(tg, "deleteMessage", as_json=True, chat_id=USER, message_id="7")
    assert response.status_code == 400
    assert tg.violations[before].field == "message_id"
    response = await call(tg, "sendMessage", as_json=True, chat_id=True, text="x")
    assert response.status_code == 400
    assert "expected Integer or String" in tg.violations[-1].message


async def test_bad_nested_keyboards(tg: TelegramDouble) -> None:
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup.inline_keyboard[0]",
        "expected Array of InlineKeyboardButton",
        chat_id=USER,
        text="x",
        reply_markup={"inline_keyboard": [{"text": "a", "url": "https://a.kg"}]},
    )
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup.inline_keyboard[0][0].colour",
        "unknown field",
        chat_id=USER,
        text="x",
        reply_markup=keyboard({"text": "a", "callback_data": "a", "colour": 1}),
    )
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup.inline_keyboard[0][0].text",
        "required field",
        chat_id=USER,
        text="x",
        reply_markup=keyboard({"callback_data": "a"}),
    )
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup.inline_keyboard[0][0]",
        "exactly one",
        chat_id=USER,
        text="x",
        reply_markup=keyboard({"text": "a"}),
    )
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup.remove_keyboard",
        "must be True",
        chat_id=USER,
        text="x",
        reply_markup={"remove_keyboard": False},
    )
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup",
        "can't parse JSON",
        chat_id=USER,
        text="x",
        reply_markup="{not json",
    )
    await assert_violation(
        tg,
        "editMessageReplyMarkup",
        "reply_markup.inline_keyboard",
        "required field",
        chat_id=USER,
        message_id=1,
        reply_markup={"keyboard": [[{"text": "a"}]]},
    )


@pytest.mark.parametrize("data", ["a" * 63 + "ы", ""], ids=["65 bytes", "0 bytes"])
async def test_callback_data_length(tg: TelegramDouble, data: str) -> None:
    await assert_violation(
        tg,
        "sendMessage",
        "reply_markup.inline_keyboard[0][0].callback_data",
        "1-64 bytes",
        chat_id=USER,
        text="x",
        reply_markup=keyboard({"text": "a", "callback_data": data}),
    )


async def test_callback_data_of_64_bytes_passes(tg: TelegramDouble) -> None:
    button = {"text": "a", "callback_data": "ы" * 32}
    response = await call(tg, "sendMessage", chat_id=USER, text="x", reply_markup=keyboard(button))
    assert response.status_code == 200, response.text
    assert tg.violations == []


async def test_text_length_is_counted_after_entity_parsing(tg: TelegramDouble) -> None:
    await assert_violation(
        tg,
        "sendMessage",
        "text",
        "1-4096 characters after entity parsing, got 4097",
        chat_id=USER,
        text="a" * 4097,
    )
    await assert_violation(
        tg, "sendMessage", "text", "got 4097", chat_id=USER, text="&lt;" * 4097, parse_mode="HTML"
    )
    for text in ("&lt;" * 4096, "<b>" + "a" * 4096 + "</b>", "a" * 4096):
        response = await call(tg, "sendMessage", chat_id=USER, text=text, parse_mode="HTML")
        assert response.status_code == 200, response.text
        assert response.json()["result"]["text"] in ("<" * 4096, "a" * 4096)
    # without parse_mode the markup is literal text, so it counts
    await assert_violation(
        tg, "sendMessage", "text", "got 4103", chat_id=USER, text="<b>" + "a" * 4096 + "</b>"
    )
    assert len(tg.violations) == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<div>block</div>", 'Unsupported start tag "div"'),
        ("Salt & pepper", 'Unescaped "&"'),
        ("a&nbsp;b", "Unsupported HTML entity"),
        ("1 < 2", 'bare "<"'),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("<span>x</span>", "tg-spoiler"),
        ("line<br>break", 'Unsupported start tag "br"'),
    ],
)
async def test_bad_html_is_a_violation(tg: TelegramDouble, text: str, fragment: str) -> None:
    await assert_violation(
        tg,
        "sendMessage",
        "text",
        "can't parse entities",
        chat_id=USER,
        text=text,
        parse_mode="HTML",
    )
    assert fragment in tg.violations[-1].message


async def test_empty_text_after_parsing(tg: TelegramDouble) -> None:
    await assert_violation(
        tg, "sendMessage", "text", "empty", chat_id=USER, text="<b></b>", parse_mode="HTML"
    )
    await assert_violation(tg, "sendMessage", "text", "empty", chat_id=USER, text="")


async def test_edit_message_text_is_validated_too(tg: TelegramDouble) -> None:
    await assert_violation(
        tg,
        "editMessageText",
        "text",
        "can't parse entities",
        chat_id=USER,
        message_id=1,
        text="<i>x",
        parse_mode="HTML",
    )
    await assert_violation(
        tg, "editMessageText", "message_id", "required if inline_message_id", chat_id=USER, text="x"
    )


async def test_prose_limits(tg: TelegramDouble) -> None:
    await assert_violation(
        tg, "answerCallbackQuery", "text", "0-200 characters", callback_query_id="1", text="x" * 201
    )
    await assert_violation(
        tg,
        "setMyCommands",
        "commands[0].command",
        "lowercase",
        commands=[{"command": "Start", "description": "Go"}],
    )
    await assert_violation(
        tg,
        "setMyCommands",
        "commands[0].command",
        "1-32 characters",
        commands=[{"command": "a" * 33, "description": "Go"}],
    )
    await assert_violation(
        tg,
        "setMyCommands",
        "commands[0].description",
        "1-256 characters",
        commands=[{"command": "start", "description": ""}],
    )
    await assert_violation(
        tg,
        "setMyCommands",
        "language_code",
        "two-letter",
        commands=[{"command": "start", "description": "Go"}],
        language_code="kir",
    )
    await assert_violation(
        tg, "sendChatAction", "action", "unknown chat action", chat_id=USER, action="x"
    )
    await assert_violation(
        tg,
        "sendMessage",
        "parse_mode",
        "unsupported parse_mode",
        chat_id=USER,
        text="x",
        parse_mode="html5",
    )
    await assert_violation(
        tg, "setWebhook", "secret_token", "A-Z", url="https://a.kg", secret_token="a b"
    )


async def test_subtypes_are_picked_by_their_type_field(tg: TelegramDouble) -> None:
    commands = [{"command": "start", "description": "Go"}]
    ok = await call(tg, "setMyCommands", commands=commands, scope={"type": "chat", "chat_id": USER})
    assert ok.status_code == 200, ok.text
    await assert_violation(
        tg,
        "setMyCommands",
        "scope.chat_id",
        "required field of BotCommandScopeChat",
        commands=commands,
        scope={"type": "chat"},
    )
    await assert_violation(
        tg,
        "setMyCommands",
        "scope.type",
        "BotCommandScope needs type one of",
        commands=commands,
        scope={"type": "everyone"},
    )
    await assert_violation(
        tg,
        "setMyCommands",
        "scope.chat_id",
        "unknown field of BotCommandScopeDefault",
        commands=commands,
        scope={"type": "default", "chat_id": 1},
    )


async def test_method_names_are_case_insensitive(tg: TelegramDouble) -> None:
    response = await call(tg, "SENDMESSAGE", chat_id=USER, text="hi")
    assert response.status_code == 200
    response = await call(tg, "getme")
    assert response.json()["result"]["is_bot"] is True
    assert tg.calls["sendMessage"] == 1 and tg.calls["getMe"] == 1
    assert tg.violations == []


async def test_json_bodies_and_get_query_strings(tg: TelegramDouble) -> None:
    markup = keyboard({"text": "A", "callback_data": "a"})
    response = await call(
        tg, "sendMessage", as_json=True, chat_id=USER, text="x", reply_markup=markup
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["reply_markup"] == markup
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{tg.base_url}{tg.token}/sendMessage?chat_id={USER}&text=q")
    assert response.status_code == 200
    assert tg.violations == []


# -- python-telegram-bot's real requests are valid ------------------------------------------------


async def test_ptb_bot_round_trip_has_no_violations(tg: TelegramDouble, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.username == "jol_test_bot" and me.is_bot
    user = tg.user(USER, "Aida", language_code="ky")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Иә", callback_data="yes"),
                InlineKeyboardButton("Жок", callback_data="no"),
            ],
            [InlineKeyboardButton("Сайт", url="https://example.kg")],
        ]
    )
    sent = await bot.send_message(
        USER,
        "<b>Саламатсызбы!</b> 1 &lt; 2 &amp; <a href='https://x.kg'>шилтеме</a>",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert sent.text == "Саламатсызбы! 1 < 2 & шилтеме"
    assert sent.entities[0].type == "bold" and sent.entities[1].url == "https://x.kg"
    assert sent.reply_markup == markup
    assert await bot.set_my_commands(
        [BotCommand("start", "Баштоо"), BotCommand("help", "Жардам")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="ky",
    )
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ky")
    assert [c.command for c in got] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    assert tg.commands("all_private_chats", "ky")[0]["description"] == "Баштоо"
    await user.press("Иә")
    (update,) = await bot.get_updates(timeout=1)
    assert update.callback_query.data == "yes"
    assert await bot.answer_callback_query(update.callback_query.id, text="Жазылды")
    assert user.callback_answers[0]["text"] == "Жазылды"
    edited = await bot.edit_message_text(
        "<i>Тандалды</i>", chat_id=USER, message_id=sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, telegram.Message) and edited.text == "Тандалды"
    assert edited.reply_markup is None  # editing text without reply_markup drops the keyboard
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=markup)
    assert await bot.send_chat_action(USER, "typing")
    assert await bot.delete_message(USER, sent.message_id)
    await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ky")
    assert (
        await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ky") == ()
    )
    info = await bot.get_webhook_info()
    assert info.url == ""
    tg.assert_no_violations()
    assert tg.errors == []
    assert [m.kind for m in user.messages()] == ["sent", "edited", "edited"]
    assert user.messages()[0].buttons == [["Иә", "Жок"], ["Сайт"]]
    assert user.chat_actions == ["typing"]
    form = next(r for r in tg.requests if r.canonical == "sendMessage")
    assert form.encoding == "form" and isinstance(form.params["reply_markup"], str)


async def test_ptb_uploads_and_reply_keyboards(tg: TelegramDouble, bot: telegram.Bot) -> None:
    user = tg.user(USER, "Aida")
    doc = await bot.send_document(
        USER, b"%PDF-1.4 test", filename="guide.pdf", caption="<b>Гид</b>", parse_mode="HTML"
    )
    assert doc.document is not None and doc.caption == "Гид"
    assert tg.uploads[0][1] == "document" and tg.uploads[0][2].filename == "guide.pdf"
    reply_kb = ReplyKeyboardMarkup(
        [[KeyboardButton("Номер жөнөтүү", request_contact=True)], ["Жардам"]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    message = await bot.send_message(USER, "Номериңизди бөлүшүңүз", reply_markup=reply_kb)
    assert message.reply_markup is None  # Telegram echoes only inline keyboards
    assert user.buttons() == [["Номер жөнөтүү"], ["Жардам"]]
    await user.press("Жардам")
    with pytest.raises(ValueError, match="share_contact"):
        await user.press("Номер жөнөтүү")
    with pytest.raises(LookupError):
        await user.press("nothing")
    await user.share_contact("+996555123456")
    updates = await bot.get_updates()
    assert updates[0].message.text == "Жардам"
    contact = updates[1].message.contact
    assert contact.phone_number == "+996555123456" and contact.user_id == USER
    await bot.send_message(USER, "ok", reply_markup=telegram.ReplyKeyboardRemove())
    assert user.buttons() == []
    tg.assert_no_violations()


# -- scripted users and updates ------------------------------------------------------------------


async def test_updates_are_well_formed(tg: TelegramDouble, bot: telegram.Bot) -> None:
    spec = load_spec()
    user = tg.user(USER, "Aida", last_name="Sadykova", username="aida_s", language_code="ky")
    await user.send_text("/start ref_42")
    await user.share_contact("996700000000")
    await bot.send_message(
        USER,
        "q",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    await user.press("a")
    await user.block()
    pending = tg.pending_updates
    assert [u["update_id"] for u in pending] == sorted(u["update_id"] for u in pending)
    for update in pending:
        assert spec.validate_object(update, "Update") == [], update
    message = pending[0]["message"]
    assert message["chat"]["type"] == "private" and message["from"]["id"] == USER
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert pending[1]["message"]["contact"]["user_id"] == USER
    assert pending[2]["callback_query"]["message"]["text"] == "q"
    assert pending[3]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    updates = await bot.get_updates()
    assert updates[0].message.text == "/start ref_42"
    assert updates[0].message.entities[0].type == "bot_command"
    sent = [r.response["result"] for r in tg.requests if r.canonical == "sendMessage"]
    assert spec.validate_object(sent[0], "Message") == []


async def test_raw_updates_are_passed_through(tg: TelegramDouble, bot: telegram.Bot) -> None:
    tg.queue_raw_update({"unknown_kind": {"x": 1}})
    tg.queue_raw_update({"update_id": 5, "message": {"garbage": True}})
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{tg.base_url}{tg.token}/getUpdates")
    result = response.json()["result"]
    assert result[0]["unknown_kind"] == {"x": 1} and result[1] == {
        "update_id": 5,
        "message": {"garbage": True},
    }


async def test_wait_for_reply(tg: TelegramDouble, bot: telegram.Bot) -> None:
    user = tg.user(USER)
    await user.send_text("hi")

    async def reply_later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(USER, "one")
        await bot.send_message(USER, "<b>two</b>", parse_mode="HTML")

    task = asyncio.create_task(reply_later())
    assert (await user.wait_for_reply()).text == "one"
    assert (await user.wait_for_reply()).text == "two"
    await task
    assert user.last_text() == "two"
    with pytest.raises(TimeoutError, match="no reply"):
        await user.wait_for_reply(timeout=0.1)


async def test_wait_for_reply_explains_violations(tg: TelegramDouble, bot: telegram.Bot) -> None:
    user = tg.user(USER)
    await user.send_text("hi")
    with pytest.raises(BadRequest, match="can't parse entities"):
        await bot.send_message(USER, "<b>oops", parse_mode="HTML")
    with pytest.raises(TimeoutError, match="can't parse entities"):
        await user.wait_for_reply(timeout=0.1)
    tg.violations.clear()


# -- Telegram behaviour: rate limits, blocks, long polling, webhooks ------------------------------


# PTB itself warns about RetryAfter.retry_after's future type when it builds the message.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_per_chat_answers_429_with_retry_after(
    bot: telegram.Bot, tg: TelegramDouble
) -> None:
    tg.set_rate_limit(True)
    for i in range(3):  # the burst
        await bot.send_message(USER, f"m{i}")
    with pytest.raises(RetryAfter, match=r"Retry in [1-9]"):
        await bot.send_message(USER, "too fast")
    await bot.send_message(USER + 1, "another chat is fine")
    assert len(tg.rate_limited) == 1 and tg.violations == []
    body = tg.rate_limited[0].response
    assert body["error_code"] == 429 and body["parameters"]["retry_after"] >= 1
    assert body["description"].startswith("Too Many Requests: retry after ")
    await bot.send_chat_action(USER, "typing")  # not a message


async def test_global_rate_limit() -> None:
    async with TelegramDouble(global_rate=0.5, global_burst=5, chat_burst=100) as tg:
        codes = [
            (await call(tg, "sendMessage", chat_id=i, text="x")).status_code for i in range(1, 8)
        ]
    assert codes == [200] * 5 + [429, 429]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_faults(tg: TelegramDouble, bot: telegram.Bot) -> None:
    tg.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter, match="Retry in 7 seconds"):
        await bot.send_message(USER, "x")
    tg.fail_next("sendmessage", 500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER, "x")
    tg.fail_next("*", 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    tg.fail_next("sendMessage", 403, description="Forbidden: user is deactivated")
    with pytest.raises(Forbidden, match="deactivated"):
        await bot.send_message(USER, "x")
    await bot.send_message(USER, "works again")
    assert [r.status for r in tg.errors] == [429, 500, 500, 502, 403]
    assert tg.rate_limited == [] and tg.violations == []
    with pytest.raises(ValueError):
        tg.fail_next("noSuchMethod", 500)


async def test_delays(tg: TelegramDouble, bot: telegram.Bot) -> None:
    tg.delay("sendMessage", 0.6)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.2)
    await asyncio.sleep(0.5)  # Telegram still handles a request whose client gave up
    assert [m.text for m in tg.messages(USER)] == ["slow"]
    tg.delay("sendMessage", 0.6, after=True, times=1)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "sent, answer lost", read_timeout=0.2)
    await asyncio.sleep(0.8)
    assert [m.text for m in tg.messages(USER)] == ["slow", "sent, answer lost"]
    tg.delay("sendMessage", 0)
    start = time.monotonic()
    await bot.send_message(USER, "fast")
    assert time.monotonic() - start < 0.5


async def test_block_answers_403(tg: TelegramDouble, bot: telegram.Bot) -> None:
    user = tg.user(USER)
    await bot.send_message(USER, "before")
    await user.block()
    assert user.blocked
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "after")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(USER, "typing")
    await user.unblock()
    await bot.send_message(USER, "again")
    assert [r.status for r in tg.errors] == [403, 403] and tg.violations == []


async def test_behaviour_errors_are_not_violations(tg: TelegramDouble, bot: telegram.Bot) -> None:
    sent = await bot.send_message(USER, "x")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("x", chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("y", chat_id=USER, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("nope")
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, 999)
    assert len(tg.errors) == 4 and tg.violations == []


async def test_get_updates_long_polls(tg: TelegramDouble, bot: telegram.Bot) -> None:
    user = tg.user(USER, "Aida")
    start = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - start < 2

    async def send_later() -> None:
        await asyncio.sleep(0.3)
        await user.send_text("салам")

    task = asyncio.create_task(send_later())
    start = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    await task
    assert time.monotonic() - start < 2
    assert [u.message.text for u in updates] == ["салам"]
    again = await bot.get_updates(timeout=0)  # not confirmed yet
    assert again == updates
    await user.send_text("экинчи")
    confirmed = await bot.get_updates(offset=updates[0].update_id + 1, limit=1)
    assert [u.message.text for u in confirmed] == ["экинчи"]
    await bot.get_updates(offset=confirmed[0].update_id + 1, timeout=0)
    assert tg.pending_updates == []


async def test_second_poller_conflicts_the_first(tg: TelegramDouble, bot: telegram.Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.2)
    second = await call(tg, "getUpdates", timeout=0)  # another bot instance
    assert second.json() == {"ok": True, "result": []}
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_webhook_delivery_with_secret(tg: TelegramDouble, bot: telegram.Bot) -> None:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    status = {"code": 500}

    async def receiver(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if status["code"] == 200:
            received.append((headers, json.loads(body)))
        await send({"type": "http.response.start", "status": status["code"], "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(receiver, port=0, log_config=None, lifespan="off", interface="asgi3")
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        tg.webhook_retry_delay = 0.1
        user = tg.user(USER, "Aida")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-Token_1")
        await user.send_text("/start")
        # the receiver fails first: Telegram keeps the update and reports the error
        assert await tg.wait_until(lambda: tg._webhook_error is not None, 3)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        status["code"] = 200
        assert await tg.wait_until(lambda: len(received) == 1, 3)
        headers, update = received[0]
        assert headers["x-telegram-bot-api-secret-token"] == "s3cret-Token_1"
        assert headers["content-type"] == "application/json"
        assert update["message"]["text"] == "/start"
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert await bot.delete_webhook()
        await user.send_text("polling again")
        assert [u.message.text for u in await bot.get_updates()] == ["polling again"]
    finally:
        server.should_exit = True
        await task
    assert tg.violations == []


# -- an Application end to end -------------------------------------------------------------------


async def test_ptb_application_end_to_end(tg: TelegramDouble) -> None:
    async def start(update: telegram.Update, context: Any) -> None:
        payload = context.args[0] if context.args else "-"
        await update.message.reply_text(
            f"<b>Салам, {update.effective_user.first_name}!</b> ({payload})",
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Баштайлы", callback_data="go")]]
            ),
        )

    async def go(update: telegram.Update, context: Any) -> None:
        await update.callback_query.answer("OK")
        await update.callback_query.edit_message_text("Биринчи суроо")

    async def contact(update: telegram.Update, context: Any) -> None:
        await update.message.reply_text(f"Рахмат, {update.message.contact.phone_number}")

    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(go))
    app.add_handler(MessageHandler(tg_filters.CONTACT, contact))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        user = tg.user(USER, "Айда", language_code="ky")
        await user.send_text("/start from_ad")
        reply = await user.wait_for_reply()
        assert reply.text == "Салам, Айда! (from_ad)"
        assert reply.buttons == [["Баштайлы"]]
        await user.press("Баштайлы")
        edited = await user.wait_for_reply()
        assert (edited.kind, edited.text, edited.buttons) == ("edited", "Биринчи суроо", [])
        assert user.callback_answers[0]["text"] == "OK"
        await user.share_contact("+996555000111")
        assert (await user.wait_for_reply()).text == "Рахмат, +996555000111"
        await app.updater.stop()
        await app.stop()
    tg.assert_no_violations()
    assert tg.calls["getUpdates"] >= 3


# -- HTML parser and the ceiling -----------------------------------------------------------------


def test_html_entities_use_utf16_offsets() -> None:
    parsed = parse_html('😀 <b>жирный</b> <pre><code class="language-python">x = 1</code></pre>')
    assert parsed.text == "😀 жирный x = 1"
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "pre", "offset": 10, "length": 5, "language": "python"},
    ]
    parsed = parse_html(
        "<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        '<tg-time unix="1700000000" format="wDT">t</tg-time>'
        '<a href="tg://user?id=42">u</a>&#x1F600;&quot;'
    )
    assert parsed.text == 'qs👍tu😀"'
    assert [e["type"] for e in parsed.entities] == [
        "expandable_blockquote",
        "spoiler",
        "custom_emoji",
        "date_time",
        "text_mention",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "<code><b>x</b></code>",
        "<blockquote><blockquote>x</blockquote></blockquote>",
        "</i>",
        "<tg-emoji>x</tg-emoji>",
        '<a href="x>y</a>',
        "&#0;",
        "<b/>",
    ],
)
def test_html_nesting_and_syntax_errors(bad: str) -> None:
    with pytest.raises(HtmlParseError):
        parse_html(bad)


def test_strict_gt() -> None:
    assert parse_html("a > b").text == "a > b"
    with pytest.raises(HtmlParseError):
        parse_html("a > b", strict_gt=True)


async def test_measure_ceiling() -> None:
    rate = await measure_ceiling(0.3, concurrency=4)
    assert rate > 50


async def test_a_cancelled_poll_is_not_a_conflict(tg: TelegramDouble, bot: telegram.Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.2)
    poll.cancel()  # what PTB's Updater.stop() does
    with pytest.raises(asyncio.CancelledError):
        await poll
    await asyncio.sleep(0.05)
    assert await bot.get_updates(timeout=0) == ()
    await asyncio.sleep(0.6)  # the abandoned poll notices it was superseded
    assert tg.errors == []


async def test_media_files_and_overrides(tg: TelegramDouble, bot: telegram.Bot) -> None:
    album = await bot.send_media_group(
        USER,
        [
            telegram.InputMediaPhoto(b"\x89PNG...", caption="<b>1</b>", parse_mode="HTML"),
            telegram.InputMediaPhoto("AgACAgIAAxkBAAI"),
        ],
    )
    assert [m.caption for m in album] == ["1", None]
    assert album[0].media_group_id == album[1].media_group_id
    assert [name.startswith("attached") for _, name, _ in tg.uploads] == [True]
    copied = await bot.copy_message(USER + 1, USER, album[0].message_id)
    assert tg.messages(USER + 1)[0].message["message_id"] == copied.message_id
    tg.add_file("doc-1", b"hello")
    file = await bot.get_file("doc-1")
    assert bytes(await file.download_as_bytearray()) == b"hello"
    tg.respond("getChatMemberCount", lambda params: 2)
    assert await bot.get_chat_member_count(USER) == 2
    assert await bot.set_my_description("Жол: маалымат", language_code="ky") is True
    assert (await bot.get_my_description("ky")).description == "Жол: маалымат"
    assert (await bot.get_my_name()).name == ""
    forwarded = await bot.forward_message(USER + 2, USER, album[0].message_id)
    assert forwarded.caption == "1" and forwarded.forward_origin is not None
    assert tg.unsimulated == {}
    await bot.leave_chat(-100)  # returns Boolean: answered with true
    tg.assert_no_violations()


async def test_current_messages_and_deletion(tg: TelegramDouble, bot: telegram.Bot) -> None:
    user = tg.user(USER)
    incoming = await user.send_text("hi")
    reply = await bot.send_message(
        USER, "hello", reply_parameters=telegram.ReplyParameters(incoming["message_id"])
    )
    assert reply.reply_to_message.text == "hi"
    assert [m.get("text") for m in tg.current_messages(USER)] == ["hi", "hello"]
    await bot.delete_message(USER, incoming["message_id"])
    assert [m["text"] for m in tg.current_messages(USER)] == ["hello"]
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "x", reply_parameters=telegram.ReplyParameters(99))


async def test_unknown_chats_can_be_an_error() -> None:
    async with TelegramDouble(unknown_chats="error") as tg:
        tg.user(USER)
        assert (await call(tg, "sendMessage", chat_id=USER, text="x")).status_code == 200
        response = await call(tg, "sendMessage", chat_id=USER + 1, text="x")
        assert response.json()["description"] == "Bad Request: chat not found"
        assert tg.violations == [] and len(tg.errors) == 1
