"""The python-telegram-bot Application: handlers, the shared httpx client, polling and webhook.

`post_init` opens the backend client and registers the commands per language; `post_shutdown`
closes it. The Bot API server is `TELEGRAM_API_BASE_URL` (Telegram, a self-hosted server or a
test double).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.backend import Backend, BackendError
from bot.config import BotSettings
from bot.handlers import COMMANDS, JolBot, with_retries
from bot.request import AiohttpRequest

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

ClientFactory = Callable[[], httpx.AsyncClient]


def file_base_url(api_base_url: str) -> str:
    """Telegram serves files from /file/bot<token>/ beside /bot<token>/."""
    head, _, tail = api_base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


def build_application(
    settings: BotSettings, *, backend_client: ClientFactory | None = None, with_updater: bool = True
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot, ready to initialise. `backend_client` overrides how the backend is reached."""
    jol = JolBot(flood_limit=settings.flood_limit, default_language=settings.default_language)

    def make_client() -> httpx.AsyncClient:
        if backend_client is not None:
            return backend_client()
        return httpx.AsyncClient(base_url=settings.backend_url, timeout=settings.backend_timeout)

    async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        client = make_client()
        application.bot_data["http"] = client
        jol.backend = Backend(client, token=settings.service_token)
        await register_commands(application, jol.backend, settings.default_language)

    async def post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        client = application.bot_data.pop("http", None)
        if client is not None:
            await client.aclose()

    transport = (AiohttpRequest(connections=settings.connections), AiohttpRequest(connections=1))
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(file_base_url(settings.api_base_url))
        # Telegram's overall limit (JOL_BOT_MAX_RATE, 30 messages/s; 0 switches it off); a 429
        # is waited out in handlers.with_retries either way.
        .rate_limiter(AIORateLimiter(overall_max_rate=settings.max_rate, max_retries=0))
        .concurrent_updates(True)
        # Bot API calls over aiohttp (bot/request.py), at most JOL_BOT_CONNECTIONS at once;
        # getUpdates (polling) on a connection of its own, as python-telegram-bot does.
        .request(transport[0])
        .get_updates_request(transport[1])
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if not with_updater:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["jol"] = jol
    application.bot_data["transport"] = transport
    application.add_handler(CommandHandler("start", jol.on_start))
    application.add_handler(CommandHandler(list(COMMANDS), jol.on_command))
    application.add_handler(MessageHandler(filters.CONTACT, jol.on_contact))
    # Any other text, unknown /commands included: the backend decides what it means.
    application.add_handler(MessageHandler(filters.TEXT & ~filters.UpdateType.EDITED, jol.on_text))
    application.add_handler(CallbackQueryHandler(jol.on_button))
    application.add_handler(ChatMemberHandler(jol.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE
            & ~filters.TEXT
            & ~filters.CONTACT
            & ~filters.StatusUpdate.ALL
            & ~filters.UpdateType.EDITED,
            jol.on_unsupported,
        )
    )
    application.add_error_handler(jol.on_error)
    return application


async def register_commands(
    application: Application[Any, Any, Any, Any, Any, Any], backend: Backend, default_language: str
) -> None:
    """setMyCommands for each language (and the default), described by the backend."""
    try:
        languages = await backend.languages()
        for lang in [*languages, None]:
            described = await backend.commands(lang or default_language)
            commands = [BotCommand(c["command"], c["description"]) for c in described]
            await with_retries(
                functools.partial(
                    application.bot.set_my_commands,
                    commands,
                    scope=BotCommandScopeAllPrivateChats(),
                    language_code=lang,
                ),
                what="setMyCommands",
            )
    except (BackendError, TelegramError) as exc:
        log.warning("commands not registered (the bot works without them): %s", exc)


async def _initialise(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # PTB calls post_init/post_shutdown only in its own run_polling(); we run the pieces
    # ourselves (beside uvicorn, in one event loop), so we call them too.
    try:
        await application.initialize()
    except BaseException:
        # The Bot API unreachable at start (getMe failed): the transport's sessions were opened
        # but python-telegram-bot shuts down only what finished initialising.
        for request in application.bot_data.get("transport", ()):
            await request.shutdown()
        raise
    if application.post_init is not None:
        await application.post_init(application)


async def _shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


async def run_polling(
    application: Application[Any, Any, Any, Any, Any, Any], stop: asyncio.Event
) -> None:
    """Long polling until `stop` is set (the default mode)."""
    await _initialise(application)
    try:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await stop.wait()
        await application.updater.stop()
        await application.stop()
    finally:
        await _shutdown(application)


def webhook_app(
    application: Application[Any, Any, Any, Any, Any, Any], secret: str | None
) -> Starlette:
    """The webhook endpoint: checks the secret token on every call, queues the update and
    answers a button's callback query in its reply (`JolBot.webhook_reply`)."""

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if secret is not None and not secrets.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"error": "bad secret token"}, status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, application.bot)
            if update is None or not isinstance(data, dict) or "update_id" not in data:
                raise ValueError("not an update")
        except (ValueError, TypeError, KeyError) as exc:
            # Skipped, and 200 so Telegram does not send it again and again.
            log.warning("skipped a malformed update: %s", exc)
            return JSONResponse({"skipped": True})
        jol = application.bot_data.get("jol")
        reply = jol.webhook_reply(update) if isinstance(jol, JolBot) else None
        await application.update_queue.put(update)
        # A method call in the answer is made by Telegram itself (answerCallbackQuery).
        return JSONResponse(reply if reply is not None else {"ok": True})

    return Starlette(routes=[Route(WEBHOOK_PATH, receive, methods=["POST"])])


async def run_webhook(
    application: Application[Any, Any, Any, Any, Any, Any],
    settings: BotSettings,
    stop: asyncio.Event,
    serve: Callable[[Starlette, asyncio.Event], Awaitable[None]],
) -> None:
    """Serve the webhook endpoint (behind the operator's HTTPS proxy) until `stop` is set."""
    await _initialise(application)
    try:
        await application.start()
        await serve(webhook_app(application, settings.webhook_secret), stop)
        await application.stop()
    finally:
        await _shutdown(application)


async def set_webhook(settings: BotSettings, url: str) -> None:
    application = build_application(settings, with_updater=False)
    async with application.bot:
        await application.bot.set_webhook(
            url + WEBHOOK_PATH if not url.endswith(WEBHOOK_PATH) else url,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )


async def delete_webhook(settings: BotSettings) -> None:
    application = build_application(settings, with_updater=False)
    async with application.bot:
        with contextlib.suppress(TelegramError):
            await application.bot.delete_webhook()
