"""bot/request.py: python-telegram-bot's Bot over aiohttp, against the Bot API double."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.app import build_application, run_polling
from bot.config import load_bot_settings
from bot.request import AiohttpRequest
from tests.telegram_double import TelegramDouble

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
USER = 2002


@pytest.fixture
async def tg() -> AsyncIterator[TelegramDouble]:
    async with TelegramDouble(rate_limit=False) as double:
        yield double
        double.assert_no_violations()
    assert double.internal_errors == []


def make_bot(base_url: str, token: str, **timeouts: float) -> telegram.Bot:
    return telegram.Bot(
        token,
        base_url=base_url,
        request=AiohttpRequest(connections=2, **timeouts),
        get_updates_request=AiohttpRequest(),
    )


@pytest.fixture
async def bot(tg: TelegramDouble) -> AsyncIterator[telegram.Bot]:
    async with make_bot(tg.base_url, tg.token) as b:
        yield b


async def test_a_message_goes_as_a_json_body_with_native_types(
    tg: TelegramDouble, bot: telegram.Bot
) -> None:
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Паспорт & <виза>", callback_data="v1:a")]]
    )
    text = "<b>Паспортуңуз</b> өзүңүздүкү — " + "ө" * 3000
    sent = await bot.send_message(USER, text, parse_mode="HTML", reply_markup=markup)
    assert sent.text == "Паспортуңуз өзүңүздүкү — " + "ө" * 3000
    assert sent.reply_markup == markup
    record = tg.requests[-1]
    assert (record.canonical, record.encoding) == ("sendMessage", "json")
    assert record.params["chat_id"] == USER  # an int, not the string a form body carries
    assert record.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Паспорт & <виза>", "callback_data": "v1:a"}]]
    }


async def test_files_go_as_multipart(tg: TelegramDouble, bot: telegram.Bot) -> None:
    album = await bot.send_media_group(
        USER,
        [
            InputMediaPhoto(b"\x89PNG...", caption="<b>1</b>", parse_mode="HTML"),
            InputMediaPhoto("AgACAgIAAxkBAAI"),
        ],
    )
    assert [m.caption for m in album] == ["1", None]
    assert tg.requests[-1].encoding == "multipart"
    assert [upload.data for _, _, upload in tg.uploads] == [b"\x89PNG..."]


async def test_a_call_without_parameters(tg: TelegramDouble, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert tg.requests[-1].canonical == "getMe"


async def test_telegrams_errors_become_python_telegram_bots(
    tg: TelegramDouble, bot: telegram.Bot
) -> None:
    tg.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(USER, "x")
    assert limited.value._retry_after.total_seconds() == 7
    tg.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "x")
    tg.fail_next("sendMessage", 502)  # an HTML page, as from the proxy in front of Telegram
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    tg.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER, "x")
    assert (await bot.send_message(USER, "after all that")).text == "after all that"


async def test_a_slow_answer_times_out(tg: TelegramDouble) -> None:
    tg.delay("sendMessage", 2.0)
    async with make_bot(tg.base_url, tg.token, read_timeout=0.2) as slow:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await slow.send_message(USER, "x")
        assert time.monotonic() - started < 1.5
        tg.delay("sendMessage", 0)
        # the per-call timeout wins over the default
        tg.delay("getMe", 0.5)
        assert (await slow.get_me(read_timeout=3)).is_bot


async def test_an_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as failed:
            await request.post(f"http://127.0.0.1:{port}/bot1:x/getMe")
        assert not isinstance(failed.value, TimedOut)
        assert "aiohttp.Client" in str(failed.value)
    finally:
        await request.shutdown()


async def test_it_must_be_initialised_and_can_be_again(tg: TelegramDouble) -> None:
    request = AiohttpRequest()
    url = f"{tg.base_url}{tg.token}/getMe"
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)
    await request.initialize()
    assert (await request.post(url))["is_bot"] is True  # type: ignore[index]
    await request.shutdown()
    await request.shutdown()  # twice is fine
    await request.initialize()
    assert (await request.post(url))["is_bot"] is True  # type: ignore[index]
    await request.shutdown()


def test_connections_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AiohttpRequest(connections=0)


async def test_a_bot_that_cannot_reach_telegram_at_start_closes_its_sessions() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_bot_settings(
        token="1:x", api_base_url=f"http://127.0.0.1:{port}/bot", service_token="t" * 24
    )
    application = build_application(
        settings, backend_client=lambda: httpx.AsyncClient(base_url="http://127.0.0.1:9")
    )
    transport = application.bot_data["transport"]
    with pytest.raises(NetworkError):
        await run_polling(application, asyncio.Event())
    assert all(request._session is None for request in transport)
