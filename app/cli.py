"""`jol`: serve the API (with the worker), check and load content, chat in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from app.config import ConfigError, Settings, load_settings


def _configure_logging(settings: Settings) -> None:
    if settings.log_format == "json":
        fmt = (
            '{"time": "%(asctime)s", "level": "%(levelname)s", "logger": "%(name)s", '
            '"message": "%(message)s"}'
        )
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=settings.log_level, format=fmt)


def cmd_content_check(settings: Settings, args: argparse.Namespace) -> int:
    from app.content.validator import check_directory

    directory = Path(args.dir) if args.dir else settings.content_dir
    report = check_directory(directory, review_max_age_days=settings.review_max_age_days)
    for problem in report.problems:
        print(problem.format())
    print(f"{len(report.errors)} errors, {len(report.warnings)} warnings in {directory}")
    return 1 if report.errors or (args.strict and report.warnings) else 0


def cmd_content_schema(settings: Settings, args: argparse.Namespace) -> int:
    from app.content.schema import json_schemas

    out = Path(args.out) if args.out else settings.content_dir / "schema"
    out.mkdir(parents=True, exist_ok=True)
    for kind, schema in json_schemas().items():
        (out / f"{kind}.schema.json").write_text(
            json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(f"wrote {len(json_schemas())} schemas to {out}")
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from app.migrations import upgrade

    upgrade(settings.resolved_database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


async def _content_load(settings: Settings, directory: Path) -> int:
    from app.content.service import publish_directory_to
    from app.errors import ContentInvalid

    try:
        result = await publish_directory_to(
            settings.resolved_database_url,
            content_dir=directory,
            review_max_age_days=settings.review_max_age_days,
        )
    except ContentInvalid as exc:
        for line in exc.details or []:
            print(line)
        print(f"not loaded: {exc.message}", file=sys.stderr)
        return 1
    for problem in result.report.warnings:
        print(problem.format())
    state = "published as" if result.created else "unchanged, still"
    print(f"content {state} version {result.version} ({len(result.report.warnings)} warnings)")
    return 0


def cmd_content_load(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(
        _content_load(settings, Path(args.dir) if args.dir else settings.content_dir)
    )


async def _serve_asgi(asgi_app: Any, host: str, port: int, stop: asyncio.Event) -> None:
    """Run uvicorn until `stop` is set (or it stops by itself, e.g. on a signal)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(asgi_app, host=host, port=port, log_config=None))

    async def watch() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        stop.set()
        watcher.cancel()


async def _serve(settings: Settings, *, worker: bool) -> None:
    import httpx

    from app.db import create_engine, create_sessionmaker
    from app.main import create_app
    from app.worker import run_worker

    api = create_app(settings)
    stop = asyncio.Event()
    tasks = []
    engine = create_engine(settings.resolved_database_url)
    if worker:
        tasks.append(asyncio.create_task(run_worker(create_sessionmaker(engine), settings, stop)))
    if settings.telegram_bot_token:
        # The process composes the bot with the API; the bot still reaches the backend only
        # through its HTTP client (here an in-process ASGI transport to the same app).
        from bot.app import build_application, run_polling
        from bot.config import load_bot_settings

        bot_settings = load_bot_settings(
            token=settings.telegram_bot_token,
            api_base_url=settings.telegram_api_base_url,
            service_token=settings.service_token,
            default_language=settings.default_language,
        )
        application = build_application(
            bot_settings,
            backend_client=lambda: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api), base_url="http://jol", timeout=10
            ),
        )
        tasks.append(asyncio.create_task(run_polling(application, stop)))
    else:
        logging.getLogger("jol").info(
            "TELEGRAM_BOT_TOKEN is not set: no Telegram bot. Chat in the terminal: "
            "jol chat --lang ky --url http://%s:%s",
            settings.host,
            settings.port,
        )
    try:
        await _serve_asgi(api, settings.host, settings.port, stop)
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                logging.getLogger("jol").error("a component stopped with an error: %r", result)
        await engine.dispose()


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from app.admin.audit import audit
    from app.admin.keys import InvalidKeyRequest, create_key, list_keys, revoke_key
    from app.db import create_engine, create_sessionmaker

    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            if args.keys == "create":
                countries = [c.strip() for c in (args.countries or "").split(",") if c.strip()]
                try:
                    key, plain = await create_key(
                        session, name=args.name, role=args.role, countries=countries, days=args.days
                    )
                except InvalidKeyRequest as exc:
                    print(exc.message, file=sys.stderr)
                    return 2
                audit(
                    session,
                    actor="cli",
                    action="key.created",
                    target=f"key:{key.id}",
                    role=key.role,
                    countries=key.countries,
                )
                await session.commit()
                print(
                    f"key {key.id} ({key.role}, {','.join(key.countries) or 'all'}) "
                    f"expires {key.expires_at:%Y-%m-%d}. Shown once, keep it safe:"
                )
                print(plain)
            elif args.keys == "list":
                for key in await list_keys(session):
                    state = "revoked" if key.revoked_at else f"expires {key.expires_at:%Y-%m-%d}"
                    print(
                        f"{key.id}\t{key.role}\t{','.join(key.countries) or '-'}\t"
                        f"{key.name}\t{state}"
                    )
            elif args.keys == "revoke":
                if not await revoke_key(session, args.id):
                    print(f"no active key {args.id}", file=sys.stderr)
                    return 1
                audit(session, actor="cli", action="key.revoked", target=f"key:{args.id}")
                await session.commit()
                print(f"key {args.id} revoked")
    finally:
        await engine.dispose()
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_keys(settings, args))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers > 1:
        # Production: N API processes (one per core); the worker and the bot run on their own.
        import uvicorn

        print(
            f"serving the API with {args.workers} processes on {settings.host}:{settings.port}; "
            "run `jol worker` and `jol bot` separately",
            file=sys.stderr,
        )
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=args.workers,
            log_config=None,
        )
        return 0
    asyncio.run(_serve(settings, worker=not args.no_worker))
    return 0


async def _worker(settings: Settings) -> None:
    from app.db import create_engine, create_sessionmaker
    from app.worker import run_worker

    engine = create_engine(settings.resolved_database_url)
    try:
        await run_worker(create_sessionmaker(engine), settings, asyncio.Event())
    finally:
        await engine.dispose()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_worker(settings))
    return 0


async def _chat(settings: Settings, args: argparse.Namespace) -> None:
    import httpx

    from app.chat import chat, is_tty
    from app.main import create_app

    if args.url:
        async with httpx.AsyncClient(base_url=args.url, timeout=10) as client:
            await chat(
                client, user=args.user, lang=args.lang, token=settings.service_token, ansi=is_tty()
            )
        return
    # In process: the same API, through an ASGI transport (lifespan run by hand).
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jol") as client:
            await chat(
                client, user=args.user, lang=args.lang, token=settings.service_token, ansi=is_tty()
            )


async def _bot(settings: Settings, args: argparse.Namespace) -> None:
    from bot.app import build_application, delete_webhook, run_polling, run_webhook, set_webhook
    from bot.config import load_bot_settings

    bot_settings = load_bot_settings()
    if args.action == "set-webhook":
        await set_webhook(bot_settings, args.url)
        print(f"webhook set to {args.url} (secret token: {bool(bot_settings.webhook_secret)})")
        return
    if args.action == "delete-webhook":
        await delete_webhook(bot_settings)
        print("webhook deleted: the bot can poll again")
        return
    application = build_application(bot_settings)
    stop = asyncio.Event()
    if args.webhook:

        async def serve(asgi_app: Any, stop_event: asyncio.Event) -> None:
            await _serve_asgi(
                asgi_app, bot_settings.webhook_host, bot_settings.webhook_port, stop_event
            )

        await run_webhook(application, bot_settings, stop, serve)
    else:
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_polling(application, stop)


def cmd_bot(settings: Settings, args: argparse.Namespace) -> int:
    from app.config import ConfigError

    try:
        asyncio.run(_bot(settings, args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_chat(settings, args))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jol", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (and the worker)")
    serve.add_argument("--no-worker", action="store_true", help="do not run the worker here")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes (more than 1: the API only, settings from the environment)",
    )
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="run the background worker alone").set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db", required=True)
    up = db.add_parser("upgrade", help="migrate to the newest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    content = sub.add_parser("content", help="content files").add_subparsers(
        dest="content", required=True
    )
    check = content.add_parser("check", help="validate the content files")
    check.add_argument("--dir", help="content directory (default: JOL_CONTENT_DIR)")
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.set_defaults(func=cmd_content_check)
    load = content.add_parser("load", help="validate and publish the content files")
    load.add_argument("--dir", help="content directory (default: JOL_CONTENT_DIR)")
    load.set_defaults(func=cmd_content_load)
    schema = content.add_parser("schema", help="write the JSON Schemas of the content files")
    schema.add_argument("--out", help="folder (default: content/schema)")
    schema.set_defaults(func=cmd_content_schema)

    keys = sub.add_parser("keys", help="staff API keys").add_subparsers(dest="keys", required=True)
    create = keys.add_parser("create", help="create a key (shown once)")
    create.add_argument(
        "--role", required=True, choices=["admin", "editor", "campaign", "consular"]
    )
    create.add_argument("--name", required=True, help="who holds it, e.g. 'Consul, Moscow'")
    create.add_argument("--countries", help="consular keys: destinations served, e.g. ru,by")
    create.add_argument("--days", type=int, default=90, help="lifetime (default 90)")
    create.set_defaults(func=cmd_keys)
    keys.add_parser("list", help="list keys").set_defaults(func=cmd_keys)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_keys)

    bot = sub.add_parser("bot", help="run the Telegram bot alone (polling, or --webhook)")
    bot.add_argument(
        "action", nargs="?", choices=["run", "set-webhook", "delete-webhook"], default="run"
    )
    bot.add_argument("url", nargs="?", help="with set-webhook: the public HTTPS base URL")
    bot.add_argument(
        "--webhook",
        action="store_true",
        help="serve /telegram/webhook on JOL_BOT_HOST:JOL_BOT_PORT",
    )
    bot.set_defaults(func=cmd_bot)

    chat = sub.add_parser("chat", help="chat in the terminal, as a user would in Telegram")
    chat.add_argument("--lang", choices=["ky", "ru", "en"], default="ky")
    chat.add_argument("--user", default="editor", help="conversation id (default: editor)")
    chat.add_argument("--url", help="a running API (default: in process)")
    chat.set_defaults(func=cmd_chat)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    _configure_logging(settings)
    result: int = args.func(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
