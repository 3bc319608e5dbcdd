"""The real bot (python-telegram-bot Application, polling or webhook) against the Bot API double,
with the real backend in process: scripted users, zero spec violations."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.config import Settings
from app.dialogue.frontend import notice
from app.models import ConsularRequest, Conversation
from bot.app import build_application, run_polling, run_webhook
from bot.config import BotSettings, load_bot_settings
from tests.conftest import SERVICE_TOKEN, publish
from tests.content.fixtures import apply_edits, copy_good
from tests.telegram_double import TelegramDouble

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def tg() -> AsyncIterator[TelegramDouble]:
    async with TelegramDouble(rate_limit=False) as double:
        yield double
        double.assert_no_violations()


def bot_settings(tg: TelegramDouble, **overrides: Any) -> BotSettings:
    return load_bot_settings(
        token=tg.token, api_base_url=tg.base_url, service_token=SERVICE_TOKEN, **overrides
    )


def in_process(app: FastAPI) -> Callable[[], httpx.AsyncClient]:
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jol")


async def start_polling(
    tg: TelegramDouble, settings: BotSettings, client: Callable[[], httpx.AsyncClient]
) -> tuple[asyncio.Event, asyncio.Task[None]]:
    application = build_application(settings, backend_client=client)
    stop = asyncio.Event()
    task = asyncio.create_task(run_polling(application, stop))
    assert await tg.wait_until(lambda: tg.calls["getUpdates"] > 0, timeout=10)
    return stop, task


@pytest.fixture
async def bot(app: FastAPI, tg: TelegramDouble) -> AsyncIterator[None]:
    stop, task = await start_polling(tg, bot_settings(tg), in_process(app))
    yield
    stop.set()
    await asyncio.wait_for(task, timeout=20)


async def conversation(app: FastAPI, user_id: int) -> Conversation:
    async with app.state.sessionmaker() as session:
        found = await session.execute(
            select(Conversation).where(Conversation.user_id == str(user_id))
        )
        return found.scalar_one()


async def test_a_kyrgyz_speaker_from_start_to_consular_request(
    app: FastAPI, tg: TelegramDouble, bot: None
) -> None:
    user = tg.user(501, "Айгүл", language_code="ky")
    await user.start("osh-2026")
    reply = await user.wait_for_reply()
    assert reply.text.startswith("Саламатсызбы!")
    assert reply.buttons == [["Кыргызча"], ["Русский"], ["English"]]

    await user.press("Кыргызча")
    reply = await user.wait_for_reply()
    assert (reply.kind, reply.text) == ("edited", "[ky] Welcome to Jol.")  # edited in place
    await user.press("[ky] Continue")
    await user.wait_for_reply()
    await user.press("[ky] Russia")
    reply = await user.wait_for_reply()
    assert reply.text == "[ky] Main menu"

    # The self-check quiz: two risky answers give the high-risk verdict.
    await user.press("[ky] Is this offer safe?")
    assert (await user.wait_for_reply()).text == "[ky] Do they ask you to pay?"
    await user.press("[ky] Yes")
    await user.wait_for_reply()
    await user.press("[ky] Yes")
    assert (await user.wait_for_reply()).text == "[ky] Your result\n\n[ky] High risk"

    # A question in her own words.
    await user.send_text("паспорттун мөөнөтү канча болушу керек")
    reply = await user.wait_for_reply()
    assert reply.text.startswith("[ky] Documents\n\n[ky] Check that your passport")
    assert reply.entities[0]["type"] == "bold"

    # I need help now -> ask the consulate -> share the phone number.
    await user.send_text("/sos")
    await user.wait_for_reply()
    await user.press("[ky] Ask the consulate to call me")
    await user.replies()  # the consulate's contacts, then "which city?"
    await user.send_text("Москва")
    await user.wait_for_reply()
    await user.press("Паспортумду алып коюшту")
    await user.wait_for_reply()
    await user.send_text("иш берүүчү паспортумду бербей жатат")
    ask = await user.replies()
    assert ask[0].text.startswith("Консулдук сиз менен кантип байланышат?")
    assert ask[0].reply_markup == {
        "keyboard": [[{"text": "Телефон номеримди жөнөтүү", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }
    await user.share_contact("+7 999 123-45-67")
    consent = await user.replies()
    assert consent[0].text.startswith("Jol телефон номериңизди")
    assert consent[0].reply_markup == {"remove_keyboard": True}
    await user.press("Ооба, жөнөтүү")
    done = await user.replies()
    assert done[0].text.startswith("Кайрылууңуз жөнөтүлдү.")

    async with app.state.sessionmaker() as session:
        request = (await session.execute(select(ConsularRequest))).scalar_one()
    assert (
        request.user_id,
        request.phone,
        request.country,
        request.lang,
        request.urgent,
        request.city,
        request.category,
    ) == ("501", "+79991234567", "ru", "ky", True, "Москва", "passport_taken")
    row = await conversation(app, 501)
    assert (row.campaign, row.lang, row.active) == ("osh-2026", "ky", True)
    # Every button press (callback query) was answered: 9 presses above.
    assert len(user.callback_answers) == 9


async def test_commands_are_registered_per_language(tg: TelegramDouble, bot: None) -> None:
    ky = tg.commands("all_private_chats", "ky")
    assert [c["command"] for c in ky] == [
        "menu",
        "sos",
        "language",
        "help",
        "request",
        "stop",
        "forget",
    ]
    assert ky[0]["description"] == "Башкы меню"
    assert tg.commands("all_private_chats", "ru")[1]["description"] == "Мне нужна помощь сейчас"
    assert tg.commands("all_private_chats", "")[0]["description"] == "Башкы меню"  # default: ky


async def test_a_russian_speaker_taps_a_stale_button(
    app: FastAPI, settings: Settings, tg: TelegramDouble, bot: None, tmp_path: Path
) -> None:
    user = tg.user(502, "Олег", language_code="ru")
    await user.start()
    await user.wait_for_reply()
    await user.press("Русский")
    await user.wait_for_reply()
    await user.press("[ru] Continue")
    await user.wait_for_reply()
    await user.press("[ru] Not decided")
    await user.wait_for_reply()
    await user.press("[ru] Before you go")
    assert (await user.wait_for_reply()).text == "[ru] Before you go"
    # Editors publish a version without "Never pay"; the user still has the old keyboard.
    newer = copy_good(tmp_path)
    for lang, prefix in (("en", ""), ("ru", "'[ru] "), ("ky", "'[ky] ")):
        quote = "'" if prefix else ""
        apply_edits(
            newer,
            [
                {
                    "file": f"{lang}/trees/learn.yaml",
                    "replace": f"    - label: {prefix}Never pay{quote}\n      goto: never-pay\n",
                    "with": "",
                },
                {
                    "file": f"{lang}/trees/learn.yaml",
                    "replace": "  - id: never-pay\n    type: article\n    article: never-pay\n",
                    "with": "  - id: gone\n    type: article\n    article: never-pay\n",
                },
            ],
        )
    # ("gone" is unreachable, so the new version must drop it as well to be valid.)
    for lang in ("en", "ru", "ky"):
        path = newer / lang / "trees" / "learn.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: text.index("  - id: gone")], encoding="utf-8")
    assert await publish(settings, newer) == 2
    await user.press("[ru] Never pay")
    stale = await user.replies()
    assert stale[0].text == "Это меню изменилось. Вот актуальное."
    assert stale[-1].text == "[ru] Before you go"
    assert ["[ru] Never pay"] not in stale[-1].buttons


async def test_a_user_who_blocks_the_bot_is_marked_unreachable(
    app: FastAPI, tg: TelegramDouble, bot: None
) -> None:
    user = tg.user(503, "Нурлан", language_code="ru")
    await user.start()
    await user.wait_for_reply()
    await user.block()  # Telegram sends my_chat_member: kicked
    for _ in range(50):
        if not (await conversation(app, 503)).active:
            break
        await asyncio.sleep(0.1)
    assert (await conversation(app, 503)).active is False


async def test_a_403_on_send_is_never_retried(app: FastAPI, tg: TelegramDouble, bot: None) -> None:
    user = tg.user(504, "Бек", language_code="en")
    await user.start()
    await user.wait_for_reply()
    sent = tg.calls["sendMessage"]
    tg.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    await user.send_text("/help")
    assert await tg.wait_until(lambda: tg.calls["sendMessage"] == sent + 1, timeout=5)
    await asyncio.sleep(0.5)
    assert tg.calls["sendMessage"] == sent + 1
    for _ in range(50):
        if not (await conversation(app, 504)).active:
            break
        await asyncio.sleep(0.1)
    assert (await conversation(app, 504)).active is False


async def test_429_is_waited_out_and_5xx_retried(tg: TelegramDouble, bot: None) -> None:
    user = tg.user(505, "Айдай", language_code="en")
    tg.fail_next("sendMessage", 429, retry_after=1)
    began = time.monotonic()
    await user.start()
    reply = await user.wait_for_reply(timeout=10)
    assert reply.text.startswith("Hello!")
    assert time.monotonic() - began >= 1.0
    tg.fail_next("sendMessage", 502, times=2)
    await user.send_text("/help")
    assert (await user.wait_for_reply(timeout=10)).text == "How to use Jol"
    assert sorted(e.status for e in tg.errors if e.method == "sendMessage") == [429, 502, 502]


async def test_backend_unreachable_gets_a_short_notice(tg: TelegramDouble) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    stop, task = await start_polling(
        tg, bot_settings(tg), lambda: httpx.AsyncClient(base_url=dead, timeout=2)
    )
    try:
        user = tg.user(506, "Асель", language_code="ru")
        await user.send_text("привет")
        reply = await user.wait_for_reply(timeout=10)
        assert reply.text == "Jol сейчас недоступен. Попробуйте ещё раз через минуту."
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


async def test_a_flood_is_slowed_politely(app: FastAPI, tg: TelegramDouble) -> None:
    stop, task = await start_polling(tg, bot_settings(tg, flood_limit=3), in_process(app))
    try:
        user = tg.user(507, "Тимур", language_code="en")
        for i in range(6):
            await user.send_text(f"message {i}")
        # Everything the bot said in the chat: the notice can come before the last message is
        # even sent (user.replies() counts only what follows the last one).
        assert await tg.wait_until(lambda: len(tg.messages(user.id)) >= 4, timeout=10)
        await asyncio.sleep(1.0)
        replies = tg.messages(user.id)
        # In the user's language: English from Telegram's hint, or the backend's language once
        # an answer to an earlier message has set it (which comes first is a race).
        slow_down = {notice(lang, "slow_down") for lang in ("ky", "ru", "en")}
        notices = [r for r in replies if r.text in slow_down]
        assert len(notices) == 1
        assert len(replies) - len(notices) >= 3  # the first three were answered
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


async def test_malformed_and_unknown_updates_are_skipped(tg: TelegramDouble, bot: None) -> None:
    tg.queue_raw_update({"something_new": {"x": 1}})
    tg.queue_raw_update(
        {
            "edited_message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 508, "type": "private"},
                "text": "edited",
            }
        }
    )
    user = tg.user(508, "Жаңыл", language_code="en")
    await user.start()
    reply = await user.wait_for_reply(timeout=10)
    assert reply.text.startswith("Hello!")
    assert len(user.messages()) == 1


async def test_text_with_html_characters_is_escaped(
    app: FastAPI, settings: Settings, tg: TelegramDouble, bot: None, tmp_path: Path
) -> None:
    newer = copy_good(tmp_path)
    apply_edits(
        newer,
        [
            {
                "file": "en/trees/main.yaml",
                "replace": "text: How to use Jol",
                "with": "text: 'Use <menu> & **bold** 2<3 [site](https://migrant.kg)'",
            }
        ],
    )
    await publish(settings, newer)
    user = tg.user(509, "Ann", language_code="en")
    await user.start()
    await user.wait_for_reply()
    await user.press("English")
    await user.wait_for_reply()
    await user.send_text("/help")
    reply = await user.wait_for_reply()
    assert reply.text == "Use <menu> & bold 2<3 site"
    assert [e["type"] for e in reply.entities] == ["bold", "text_link"]


async def test_webhook_mode_checks_the_secret(app: FastAPI, tg: TelegramDouble) -> None:
    port = free_port()
    settings = bot_settings(tg, webhook_secret="s3cret-token", webhook_port=port)
    application = build_application(settings, backend_client=in_process(app), with_updater=False)
    stop = asyncio.Event()

    async def serve(asgi_app: Any, stop_event: asyncio.Event) -> None:
        import uvicorn

        server = uvicorn.Server(
            uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning")
        )
        watcher = asyncio.create_task(stop_event.wait())
        serving = asyncio.create_task(server.serve())
        await watcher
        server.should_exit = True
        await serving

    task = asyncio.create_task(run_webhook(application, settings, stop, serve))
    try:
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    refused = await client.post(url, json={"update_id": 1})
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert refused.status_code == 403
            garbage = await client.post(
                url,
                content=b"{not json",
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"},
            )
            assert garbage.status_code == 200 and garbage.json() == {"skipped": True}
        await application.bot.set_webhook(url, secret_token="s3cret-token")
        user = tg.user(510, "Эрмек", language_code="ky")
        await user.start()
        reply = await user.wait_for_reply(timeout=10)
        assert reply.text.startswith("Саламатсызбы!")
        assert tg.calls["getUpdates"] == 0
        # A button: its callback query is answered in the webhook's reply, once (a second
        # answer would be refused by the double), and the menu follows as usual.
        await user.press("Кыргызча")
        reply = await user.wait_for_reply(timeout=10)
        answers = [r for r in tg.requests if r.method == "answerCallbackQuery"]
        assert [a.encoding for a in answers] == ["webhook-reply"]
        assert answers[0].status == 200
        assert reply.buttons, reply.text
        assert not tg.errors
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


async def test_consular_request_from_telegram_to_the_consul_and_back(
    app: FastAPI, tg: TelegramDouble, bot: None
) -> None:
    """A user files in Kyrgyz; a consul for Russia replies; the reply reaches her chat."""
    from app.admin.keys import create_key
    from app.telegram.client import BotApiClient
    from app.worker import send_outbox_once

    user = tg.user(601, "Жыпар", language_code="ky")
    await user.start()
    await user.wait_for_reply()
    for label in ("Кыргызча", "[ky] Continue", "[ky] Russia"):
        await user.press(label)
        await user.wait_for_reply()
    await user.send_text("/sos")
    await user.wait_for_reply()
    await user.press("[ky] Ask the consulate to call me")
    await user.replies()
    await user.press("Өткөрүп жиберүү")  # no city
    await user.wait_for_reply()
    await user.press("Айлык төлөнбөй жатат")
    await user.wait_for_reply()
    await user.send_text("3 айдан бери айлык беришпейт")
    await user.replies()
    await user.share_contact("+7 900 111 22 33")
    await user.replies()
    await user.press("Ооба, жөнөтүү")
    await user.replies()

    async with app.state.sessionmaker() as session:
        _, russia = await create_key(
            session, name="Consul, Moscow", role="consular", countries=["ru"], days=30
        )
        _, kazakhstan = await create_key(
            session, name="Consul, Almaty", role="consular", countries=["kz"], days=30
        )
        await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://jol"
    ) as admin:
        queue = (
            await admin.get(
                "/admin/v1/consular/requests", headers={"Authorization": f"Bearer {russia}"}
            )
        ).json()
        assert [(r["country"], r["category"], r["lang"]) for r in queue["requests"]] == [
            ("ru", "unpaid", "ky")
        ]
        request_id = queue["requests"][0]["id"]
        hidden = (
            await admin.get(
                "/admin/v1/consular/requests", headers={"Authorization": f"Bearer {kazakhstan}"}
            )
        ).json()
        assert hidden == {"requests": []}
        reply = await admin.post(
            f"/admin/v1/consular/requests/{request_id}/replies",
            json={"text": "Сиз менен эртең байланышабыз."},
            headers={"Authorization": f"Bearer {russia}"},
        )
        assert reply.status_code == 201

        # The worker delivers it through the Bot API (here the double).
        async with httpx.AsyncClient() as http:
            sender = BotApiClient(http, base_url=tg.base_url, token=tg.token)
            assert await send_outbox_once(app.state.sessionmaker, sender) == {
                "sent": 1,
                "failed": 0,
                "retry": 0,
            }
        delivered = await user.wait_for_reply()
        assert delivered.text == (
            f"Консулдуктун жообу (кайрылуу №{request_id}):\n\nСиз менен эртең байланышабыз."
        )

        # She answers; it joins the request's thread.
        await user.press("✍ Консулдукка жооп берүү")
        assert (await user.wait_for_reply()).text == "Консулдукка билдирүүңүздү жазыңыз:"
        await user.send_text("Рахмат, күтөм")
        assert (await user.wait_for_reply()).text == "Консулдукка жөнөтүлдү."
        detail = (
            await admin.get(
                f"/admin/v1/consular/requests/{request_id}",
                headers={"Authorization": f"Bearer {russia}"},
            )
        ).json()
        assert [(m["author"], m["text"]) for m in detail["thread"]] == [
            ("staff", "Сиз менен эртең байланышабыз."),
            ("user", "Рахмат, күтөм"),
        ]


async def test_the_outbox_retries_429_and_gives_up_on_a_blocked_user(
    app: FastAPI, tg: TelegramDouble
) -> None:
    from app.models import OutboundMessage
    from app.telegram.client import BotApiClient
    from app.worker import send_outbox_once

    async with app.state.sessionmaker() as session:
        session.add(Conversation(channel="telegram", user_id="602", state={}))
        session.add_all(
            [
                OutboundMessage(channel="telegram", chat_id="602", text="one"),
                OutboundMessage(channel="telegram", chat_id="603", text="two"),
            ]
        )
        await session.commit()
    tg.fail_next("sendMessage", 429, retry_after=7)
    async with httpx.AsyncClient() as http:
        sender = BotApiClient(http, base_url=tg.base_url, token=tg.token)
        assert await send_outbox_once(app.state.sessionmaker, sender) == {
            "sent": 1,
            "failed": 0,
            "retry": 1,
        }
        # Not due yet: the 429's retry_after is respected.
        assert await send_outbox_once(app.state.sessionmaker, sender) == {
            "sent": 0,
            "failed": 0,
            "retry": 0,
        }
        await tg.user(602).block(notify=False)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)
        assert await send_outbox_once(app.state.sessionmaker, sender, now=later) == {
            "sent": 0,
            "failed": 1,
            "retry": 0,
        }
    async with app.state.sessionmaker() as session:
        first = (
            await session.execute(select(OutboundMessage).where(OutboundMessage.chat_id == "602"))
        ).scalar_one()
        assert (first.status, first.attempts) == ("failed", 2)
        assert "blocked" in (first.last_error or "")
    assert (await conversation(app, 602)).active is False


async def test_jol_serve_hosts_api_worker_and_bot_in_one_process(
    settings: Settings, tg: TelegramDouble
) -> None:
    """The embedded default: `jol serve` with a token runs the bot beside the API."""
    from app.cli import _serve

    await publish(settings)
    port = free_port()
    combined = settings.model_copy(
        update={"telegram_bot_token": tg.token, "telegram_api_base_url": tg.base_url, "port": port}
    )
    server = asyncio.create_task(_serve(combined, worker=True))
    try:
        user = tg.user(801, "Canat", language_code="ru")
        await user.start()
        reply = await user.wait_for_reply(timeout=15)
        assert reply.text.startswith("Здравствуйте! Я Jol")
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.json()["status"] == "ready"
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(server, timeout=20)


async def send_at_once(tg: TelegramDouble, user_id: int, count: int, **settings: Any) -> float:
    """Seconds the bot (with these settings, no backend) takes to send `count` messages at once."""
    application = build_application(
        bot_settings(tg, **settings),
        backend_client=lambda: httpx.AsyncClient(base_url="http://127.0.0.1:9"),
        with_updater=False,
    )
    async with application:
        began = time.monotonic()
        sends = (application.bot.send_message(user_id, f"{i}") for i in range(count))
        await asyncio.gather(*sends)
        return time.monotonic() - began


async def test_the_bot_keeps_to_its_overall_message_rate(tg: TelegramDouble) -> None:
    """JOL_BOT_MAX_RATE reaches the limiter: at 2 messages/s, 5 messages take over a second."""
    user = tg.user(508, "Айгүл")
    assert await send_at_once(tg, user.id, 5, max_rate=2.0) >= 1.0
    assert len(await user.replies(quiet=0.2, timeout=5)) == 5


async def test_the_bot_uses_at_most_its_connections_to_the_bot_api(tg: TelegramDouble) -> None:
    """JOL_BOT_CONNECTIONS caps the calls in flight: with 2, four slow sends go in two waves."""
    user = tg.user(509, "Азамат")
    tg.delay("sendMessage", 0.4)
    assert 0.8 <= await send_at_once(tg, user.id, 4, connections=2, max_rate=0.0) < 1.6
    assert len(await user.replies(quiet=0.2, timeout=5)) == 4
