"""The bot side of bot_bench.py: one webhook server on 127.0.0.1, run in its own process.

    .venv/bin/python bench/bot_echo.py MODE --api-base URL --token T --secret S --workdir DIR

MODE is one of

* `echo`: python-telegram-bot's minimal echo bot, the anchor: an `Application` (no updater,
  `concurrent_updates(True)`) with one `MessageHandler(filters.TEXT, echo)` that `reply_text`s
  the text, behind a tiny Starlette webhook endpoint that checks the secret header, runs
  `Update.de_json` and puts the update on `application.update_queue` (what bot/app.py does).
* `echo-aiohttp`: the same echo bot on Jol's Bot API transport (`bot.request.AiohttpRequest`,
  8 connections, JOL_BOT_CONNECTIONS' default) instead of PTB's httpx with 256: a diagnostic,
  the echo bot like for like with Jol's sending, to show how much of Jol's figure against the
  anchor comes from the transport alone.
* `jol`: the real bot, `bot.app.build_application(..., with_updater=False)` served by
  `bot.app.run_webhook`, with the real backend in process (a fresh SQLite database in DIR,
  migrated, the real `content/` published, `create_app` with its lifespan) reached through
  `httpx.ASGITransport`, as the embedded default does.
* `jol-nolimit`: the same, with the bot's own overall limit of 30 messages/s off
  (`JOL_BOT_MAX_RATE=0`; the echo bot has none): the run the bar is judged on.
* `raw`: no python-telegram-bot at all: the endpoint parses the JSON and posts `sendMessage`
  (httpx, one connection per client, 64 clients). It calibrates the harness (double + users).
* `null`: answers 200 and does nothing. It measures the double's own webhook delivery rate.

All modes are served the same way: uvicorn (h11, no access log, no lifespan) in this process's
event loop, on a socket bound here (IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted
connections). The process prints `READY <port>` once it serves, and stops when its stdin closes
(the parent's way of stopping it) or on SIGTERM/SIGINT. `--profile FILE` runs it under cProfile
and writes the stats to FILE at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import secrets
import signal
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

HOST = "127.0.0.1"  # the only address this process serves on or talks to
WEBHOOK_PATH = "/telegram/webhook"  # the same path as bot/app.py
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SERVICE_TOKEN = "bench-service-token-0123456789"
CONTENT_DIR = ROOT / "content"
MODES = ("null", "raw", "echo", "echo-aiohttp", "jol", "jol-nolimit")

log = logging.getLogger("bot_echo")
PROFILER: cProfile.Profile | None = None


# -- serving -----------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn inside our event loop: no signal handling of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def make_serve(sock: socket.socket) -> Any:
    """A `serve(asgi_app, stop_event)` as bot.app.run_webhook wants it; says READY when up."""

    async def serve(asgi_app: Any, stop_event: asyncio.Event) -> None:
        config = uvicorn.Config(
            asgi_app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            loop="asyncio",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=3,
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            for _ in range(2000):  # up to ~20 s
                if server.started or serving.done():
                    break
                await asyncio.sleep(0.01)
            if not server.started:
                if serving.done():
                    serving.result()
                raise RuntimeError("uvicorn did not start")
            print(f"READY {sock.getsockname()[1]}", flush=True)
            if PROFILER is not None:  # serving only: not the start-up (migrations, publish)
                PROFILER.enable()
            stopper = asyncio.create_task(stop_event.wait())
            await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
        finally:
            if PROFILER is not None:
                PROFILER.disable()
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(serving, timeout=10)

    return serve


def secret_ok(request: Request, secret: str) -> bool:
    given = request.headers.get(SECRET_HEADER, "")
    return secrets.compare_digest(given.encode(), secret.encode())


# -- null and raw ------------------------------------------------------------------------------


def null_app(secret: str) -> Starlette:
    async def receive(request: Request) -> Response:
        await request.body()
        if not secret_ok(request, secret):
            return JSONResponse({"error": "bad secret token"}, status_code=403)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(WEBHOOK_PATH, receive, methods=["POST"])])


def raw_app(secret: str, clients: asyncio.Queue[httpx.AsyncClient], send_url: str) -> Starlette:
    tasks: set[asyncio.Task[Any]] = set()

    async def reply(chat_id: int, text: str) -> None:
        client = await clients.get()
        try:
            response = await client.post(send_url, json={"chat_id": chat_id, "text": text})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("raw sendMessage failed: %r", exc)
        finally:
            clients.put_nowait(client)

    async def receive(request: Request) -> Response:
        if not secret_ok(request, secret):
            return JSONResponse({"error": "bad secret token"}, status_code=403)
        data = json.loads(await request.body())
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, dict) and message.get("text"):
            task = asyncio.create_task(reply(message["chat"]["id"], message["text"]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(WEBHOOK_PATH, receive, methods=["POST"])])


# -- the python-telegram-bot echo bot ----------------------------------------------------------


def build_echo_bot(token: str, api_base: str, file_base: str, jol_transport: bool = False) -> Any:
    """PTB's minimal echo bot: one MessageHandler(filters.TEXT) that reply_text()s the text.

    `jol_transport`: Jol's Bot API transport (aiohttp, 8 connections) instead of PTB's default
    (httpx, 256 connections)."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(api_base)
        .base_file_url(file_base)
        .updater(None)
        .concurrent_updates(True)
    )
    if jol_transport:
        from bot.request import AiohttpRequest

        builder = builder.request(AiohttpRequest(connections=8))
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    return application


async def run_echo(args: argparse.Namespace, stop: asyncio.Event, serve: Any) -> None:
    application = build_echo_bot(
        args.token, args.api_base, args.file_base, jol_transport=args.mode == "echo-aiohttp"
    )
    async with application:  # initialize() / shutdown()
        await application.start()
        try:
            from bot.app import webhook_app

            await serve(webhook_app(application, args.secret), stop)
        finally:
            await application.stop()


# -- Jol ---------------------------------------------------------------------------------------


def database_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bot-bench.db'}"


def migrate(workdir: Path) -> None:
    """Before the event loop starts (alembic runs its own)."""
    from app.migrations import upgrade

    upgrade(database_url(workdir))


async def publish(url: str) -> int:
    from app.content.service import publish_directory_to

    result = await publish_directory_to(url, content_dir=CONTENT_DIR, review_max_age_days=10_000)
    return result.version


async def run_jol(args: argparse.Namespace, stop: asyncio.Event, serve: Any) -> None:
    import bot.app as bot_app
    from app.config import load_settings
    from app.main import create_app
    from bot.config import load_bot_settings

    workdir = Path(args.workdir)
    url = database_url(workdir)
    await publish(url)
    settings = load_settings(
        database_url=url,
        content_dir=CONTENT_DIR,
        service_token=SERVICE_TOKEN,
        env="test",
        content_refresh_seconds=2,
        data_dir=workdir,
    )
    api = create_app(settings)
    async with api.router.lifespan_context(api):
        bot_settings = load_bot_settings(
            token=args.token,
            api_base_url=args.api_base,
            service_token=SERVICE_TOKEN,
            webhook_secret=args.secret,
            webhook_port=args.port_hint,
            flood_limit=100_000,  # the flood guard must not throttle the scripted users
            # jol-nolimit: the bot's own 30 messages/s limit off (JOL_BOT_MAX_RATE=0), as the
            # echo bot has none; `jol` keeps the default.
            **({"max_rate": 0.0} if args.mode == "jol-nolimit" else {}),
        )
        application = bot_app.build_application(
            bot_settings,
            backend_client=lambda: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api), base_url="http://jol"
            ),
            with_updater=False,
        )
        await bot_app.run_webhook(application, bot_settings, stop, serve)


# -- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)

    def on_stdin() -> None:
        try:
            data = os.read(stdin, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # EOF: the parent wants us gone
            loop.remove_reader(stdin)
            stop.set()

    loop.add_reader(stdin, on_stdin)
    sock = bind_socket()
    try:
        serve = make_serve(sock)
        if args.mode == "null":
            await serve(null_app(args.secret), stop)
        elif args.mode == "raw":
            # 64 clients of one connection each: one shared pool with many requests in flight
            # spends milliseconds per request in httpcore's connection assignment.
            async with contextlib.AsyncExitStack() as stack:
                limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
                clients: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
                for _ in range(64):
                    clients.put_nowait(
                        await stack.enter_async_context(
                            httpx.AsyncClient(limits=limits, trust_env=False, timeout=10)
                        )
                    )
                send_url = f"{args.api_base}{args.token}/sendMessage"
                await serve(raw_app(args.secret, clients, send_url), stop)
        elif args.mode in ("echo", "echo-aiohttp"):
            await run_echo(args, stop, serve)
        else:
            await run_jol(args, stop, serve)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(stdin)
        sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="the bot side of bot_bench.py")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--api-base", required=True, help="the double's base_url")
    parser.add_argument("--file-base", required=True, help="the double's base_file_url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--workdir", required=True, help="a temporary directory (the database)")
    parser.add_argument("--port-hint", type=int, default=8088, help="webhook_port setting only")
    parser.add_argument("--profile", default=None, help="write cProfile stats to this file")
    args = parser.parse_args()
    for url in (args.api_base, args.file_base):
        if not url.startswith(f"http://{HOST}:"):
            raise SystemExit(f"refusing a non-loopback Bot API address: {url}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from telegram.warnings import PTBUserWarning

    warnings.filterwarnings("ignore", category=PTBUserWarning)
    if args.mode.startswith("jol"):
        migrate(Path(args.workdir))
    global PROFILER
    PROFILER = cProfile.Profile() if args.profile else None
    try:
        asyncio.run(run(args))
    finally:
        if PROFILER is not None:
            PROFILER.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
