"""A Telegram Bot API test double: a real HTTP server on 127.0.0.1 that validates every request
against the Bot API spec and simulates enough of Telegram to drive a bot end to end.

    async with TelegramDouble() as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url) \\
            .base_file_url(tg.base_file_url).build()
        ...
        user = tg.user(1001, first_name="Aida", language_code="ky")
        await user.send_text("/start")
        reply = await user.wait_for_reply()
        assert tg.violations == []

The server runs as a task in the caller's event loop (uvicorn), so tests need no threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import itertools
import json
import logging
import math
import re
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .html import parse_text, utf16_len
from .spec import Issue, Spec, UploadedFile, load_spec

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAE-jol-test-double-token_0123456789ab"
_API_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/]*)/?")
_FILE_PATH = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)")
_COMMAND_TOKEN = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,})?")
# Update fields Telegram does not deliver unless asked for in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a content and reply markup of the current message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
_current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "telegram_double_request", default=None
)


class ApiError(Exception):
    """An error answer of the Bot API (or a raw non-JSON answer, as from a proxy)."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        raw_body: str | None = None,
        violation: bool = False,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.raw_body = raw_body
        self.violation = violation
        self.rate_limited = rate_limited

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class RecordedRequest:
    """One request the double answered (or a webhook delivery's reply call)."""

    method: str  # as sent
    canonical: str | None  # spelling from the spec, None for unknown methods
    params: dict[str, Any]  # as received: strings for form/multipart bodies
    encoding: str  # json | form | multipart | query | none | webhook-reply
    at: float = field(default_factory=time.time)
    status: int = 0
    response: Any = None

    @property
    def description(self) -> str:
        if isinstance(self.response, dict):
            return str(self.response.get("description", ""))
        return str(self.response)


@dataclass
class Violation:
    """A request that breaks the Bot API spec; `field` is a dotted path or None."""

    method: str
    field: str | None
    message: str
    request: RecordedRequest

    def __str__(self) -> str:
        where = f"{self.method}.{self.field}" if self.field else self.method
        return f"{where}: {self.message}"


@dataclass
class BotMessage:
    """A message the bot sent or edited, as the user would see it."""

    chat_id: int
    message_id: int
    kind: str  # "sent" | "edited"
    method: str
    text: str  # plain text after entity parsing (the caption for media)
    reply_markup: dict[str, Any] | None  # as sent: inline or reply keyboard, remove, force reply
    message: dict[str, Any]  # the Message object returned to the bot
    params: dict[str, Any]  # the validated request parameters

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list(self.message.get("entities") or self.message.get("caption_entities") or [])

    @property
    def keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of buttons (inline or reply keyboard), empty if none."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[b if isinstance(b, dict) else {"text": b} for b in row] for row in rows]

    @property
    def buttons(self) -> list[list[str]]:
        """Button texts, row by row."""
        return [[b.get("text", "") for b in row] for row in self.keyboard]

    @property
    def inline(self) -> bool:
        return bool(self.reply_markup and "inline_keyboard" in self.reply_markup)

    def find_button(self, label: str) -> dict[str, Any] | None:
        """The button whose text, or else whose callback_data, equals `label`."""
        flat = [b for row in self.keyboard for b in row]
        for key in ("text", "callback_data"):
            for button in flat:
                if button.get(key) == label:
                    return button
        return None


@dataclass
class _Fault:
    method: str  # canonical name or "*"
    status: int
    remaining: int
    retry_after: int | None
    description: str | None


@dataclass
class _Delay:
    method: str
    seconds: float
    remaining: int | None
    after: bool


class _TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_needed(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class _Server(uvicorn.Server):
    """uvicorn without signal handling: it lives inside the test's event loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        # uvicorn checks should_exit every 100 ms; every 10 ms makes stopping (per test) quick.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if m is None:
        raise ValueError("multipart body without boundary")
    delimiter = b"--" + m.group(1).encode("latin-1")
    fields: list[tuple[str, str]] = []
    files: dict[str, Any] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("malformed multipart part")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = dict(re.findall(r'(\w+)="([^"]*)"', disposition))
        name = params.get("name")
        if name is None:
            raise ValueError("multipart part without a name")
        if "filename" in params:
            files[name] = UploadedFile(params["filename"], headers.get("content-type"), data)
        else:
            fields.append((name, data.decode("utf-8")))
    return fields, files


class TelegramDouble:
    """The Bot API double. Start with `await start()` (or `async with`), stop with `stop()`.

    Records: `violations` (spec breaches; bot tests assert it is empty), `rate_limited` (429s),
    `errors` (other non-2xx answers: injected faults, 403 blocked, behavioural 400s such as
    "message is not modified"), `requests` (everything), `calls` (Counter by method).
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "jol_test_bot",
        bot_first_name: str = "Jol",
        host: str = "127.0.0.1",
        port: int = 0,
        spec: Spec | None = None,
        rate_limit: bool = True,
        global_rate: float = 30.0,
        global_burst: int = 30,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        rate_limit_edits: bool = False,
        not_modified_errors: bool = True,
        unknown_chats: str = "create",
        webhook_retry_delay: float = 0.5,
        first_update_id: int = 10_000,
    ) -> None:
        self.token = token
        self.spec = spec or load_spec()
        self.host = host
        self.port = port
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.rate_limit = rate_limit
        self.global_rate, self.global_burst = global_rate, global_burst
        self.chat_rate, self.chat_burst = chat_rate, chat_burst
        self.rate_limit_edits = rate_limit_edits
        self.not_modified_errors = not_modified_errors
        if unknown_chats not in ("create", "error"):
            raise ValueError("unknown_chats must be 'create' or 'error'")
        self.unknown_chats = unknown_chats
        self.webhook_retry_delay = webhook_retry_delay

        self.violations: list[Violation] = []
        self.rate_limited: list[RecordedRequest] = []
        self.errors: list[RecordedRequest] = []
        self.requests: list[RecordedRequest] = []
        self.calls: Counter[str] = Counter()
        self.unsimulated: Counter[str] = Counter()  # spec methods answered with a bare `true`
        self.internal_errors: list[str] = []  # results of the double that break the spec
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.uploads: list[tuple[str, str, UploadedFile]] = []  # (method, field, file)
        self.files: dict[str, bytes] = {}  # file_id (= file_path) -> content, see add_file()
        self._file_ids = itertools.count(1)
        self.chat_actions: dict[int, list[str]] = {}
        self.callback_answers: dict[int, list[dict[str, Any]]] = {}

        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(first_update_id)
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, ScriptedUser] = {}
        self._messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._bot_message_ids: set[tuple[int, int]] = set()
        self._next_message_id: dict[int, int] = {}
        self._transcripts: dict[int, list[BotMessage]] = {}
        self._reply_keyboards: dict[int, dict[str, Any] | None] = {}
        self._blocked: set[int] = set()
        self._callback_queries: dict[str, dict[str, Any]] = {}
        self._callback_ids = itertools.count(4_382_000_000_000_000_001)
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._profile: dict[str, dict[str, str]] = {}
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._overrides: dict[str, Any] = {}
        self._global_bucket = _TokenBucket(global_rate, global_burst)
        self._chat_buckets: dict[int, _TokenBucket] = {}

        self._changed = asyncio.Event()
        self._closing = False
        self._server: _Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "sendMediaGroup": self._send_media_group,
            "getFile": self._get_file,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)` / `Bot(base_url=...)`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> TelegramDouble:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP, and without it every keep-alive request waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        self._closing = False
        self._server = _Server(config)
        self._server_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._server_task.done():
                self._server_task.result()
                raise RuntimeError("the Telegram double's server did not start")
            await asyncio.sleep(0.005)
        self._webhook_task = asyncio.create_task(self._webhook_loop())
        return self

    async def stop(self) -> None:
        self._closing = True
        self._bump()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await self._server_task
            self._server = self._server_task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def __aenter__(self) -> TelegramDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- records -------------------------------------------------------------------------------

    def assert_no_violations(self) -> None:
        """Raise AssertionError listing the violations, if any."""
        if self.violations:
            lines = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(f"{len(self.violations)} Bot API violation(s):\n{lines}")

    def clear_records(self) -> None:
        """Forget recorded requests, violations, errors and counters (state is kept)."""
        self.violations.clear()
        self.rate_limited.clear()
        self.errors.clear()
        self.requests.clear()
        self.calls.clear()
        self.unsimulated.clear()

    # -- scripted users and updates ------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ky",
        is_premium: bool | None = None,
    ) -> ScriptedUser:
        """The scripted user with this id (created on first call)."""
        if user_id not in self._users:
            self._users[user_id] = ScriptedUser(
                self, user_id, first_name, last_name, username, language_code, is_premium
            )
        return self._users[user_id]

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a well-formed update (update_id is assigned); it is checked against the spec."""
        update = {"update_id": next(self._update_ids), **update}
        issues = self.spec.validate_object(update, "Update")
        if issues:
            raise AssertionError(f"the double built an invalid Update: {issues}")
        self._pending.append(update)
        self._bump()
        return update

    def queue_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any dict as an update, unchecked (an update_id is added only if missing)."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._bump()
        return update

    def add_file(self, file_id: str, content: bytes) -> None:
        """Make `getFile(file_id)` work and serve `content` under base_file_url."""
        self.files[file_id] = content

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._pending)

    def messages(self, chat_id: int) -> list[BotMessage]:
        """Everything the bot sent or edited in a chat, in order."""
        return list(self._transcripts.get(chat_id, []))

    def current_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's messages (both sides) as they are now, deleted ones excluded."""
        return [m for _, m in sorted(self._messages.get(chat_id, {}).items())]

    def commands(
        self, scope: dict[str, Any] | str | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set for a scope (a BotCommandScope dict or its `type`) and language."""
        if isinstance(scope, str):
            scope = {"type": scope}
        return list(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def webhook(self) -> dict[str, Any] | None:
        return dict(self._webhook) if self._webhook else None

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (re-checked on every state change and every 50 ms)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self._wait_change(min(remaining, 0.05))
        return True

    # -- fault injection -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` valid calls of `method` ("*" for any) with `status`.

        429 carries `parameters.retry_after` (default 1); 502 answers an HTML page like the
        proxy in front of Telegram does.
        """
        self._faults.append(
            _Fault(self._canonical(method), status, times, retry_after, description)
        )

    def delay(
        self, method: str, seconds: float, *, times: int | None = None, after: bool = False
    ) -> None:
        """Delay calls of `method` ("*" for any) by `seconds` (0 removes the delay).

        `after=False` waits before handling; `after=True` handles the call and then waits before
        answering - the "sent but the response was lost" case when the client times out.
        """
        canonical = self._canonical(method)
        self._delays = [d for d in self._delays if d.method != canonical]
        if seconds > 0:
            self._delays.append(_Delay(canonical, seconds, times, after))

    def respond(self, method: str, result: Any) -> None:
        """Answer valid calls of `method` with `result` (or `result(params)`, maybe async)."""
        self._overrides[self._canonical(method)] = result

    def set_rate_limit(self, enabled: bool) -> None:
        self.rate_limit = enabled

    def _canonical(self, method: str) -> str:
        if method == "*":
            return method
        canonical = self.spec.method_name(method)
        if canonical is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return canonical

    # -- benchmarks ----------------------------------------------------------------------------

    async def measure_ceiling(
        self, seconds: float = 1.0, *, concurrency: int = 8, method: str = "getMe"
    ) -> float:
        """Trivial requests per second this double answers (client in the same event loop)."""
        url = f"{self.base_url}{self.token}/{method}"
        done = 0
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits) as client:
            loop = asyncio.get_running_loop()
            start = loop.time()
            stop_at = start + seconds

            async def worker() -> None:
                nonlocal done
                while loop.time() < stop_at:
                    response = await client.post(url)
                    response.raise_for_status()
                    done += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = loop.time() - start
        return done / elapsed

    # -- internals: state ----------------------------------------------------------------------

    def _bump(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_change(self, timeout: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and (remaining := deadline - loop.time()) > 0:
            await self._wait_change(remaining)

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id not in self._chats:
            if self.unknown_chats == "error":
                raise ApiError(400, "Bad Request: chat not found")
            if chat_id > 0:
                self._chats[chat_id] = {
                    "id": chat_id,
                    "type": "private",
                    "first_name": f"User {chat_id}",
                }
            else:
                self._chats[chat_id] = {
                    "id": chat_id,
                    "type": "supergroup",
                    "title": f"Chat {chat_id}",
                }
        return self._chats[chat_id]

    def _resolve_chat_id(self, chat_id: Any) -> int:
        if isinstance(chat_id, int):
            return chat_id
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            return int(chat_id)
        for cid, chat in self._chats.items():
            if isinstance(chat_id, str) and chat.get("username") == chat_id.lstrip("@"):
                return cid
        raise ApiError(400, "Bad Request: chat not found")

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def _store(self, message: dict[str, Any], *, from_bot: bool) -> None:
        chat_id = message["chat"]["id"]
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message
        if from_bot:
            self._bot_message_ids.add((chat_id, message["message_id"]))

    def _record_bot_message(
        self, kind: str, method: str, message: dict[str, Any], params: dict[str, Any]
    ) -> None:
        chat_id = message["chat"]["id"]
        markup = params.get("reply_markup") if "reply_markup" in params else None
        if kind == "edited":
            markup = message.get("reply_markup")
        text = message.get("text", message.get("caption", ""))
        self._transcripts.setdefault(chat_id, []).append(
            BotMessage(chat_id, message["message_id"], kind, method, text, markup, message, params)
        )
        if isinstance(markup, dict):
            if "keyboard" in markup:
                self._reply_keyboards[chat_id] = markup
            elif "remove_keyboard" in markup:
                self._reply_keyboards[chat_id] = None
        self._bump()

    def _deliverable(self) -> list[dict[str, Any]]:
        """Pending updates the bot asked for (others are dropped, as Telegram does)."""
        allowed = self._allowed_updates
        keep: list[dict[str, Any]] = []
        update_fields = self.spec.fields("Update")
        for update in self._pending:
            kinds = [k for k in update if k != "update_id"]
            kind = kinds[0] if kinds else ""
            if kind in update_fields and (
                (allowed and kind not in allowed) or (not allowed and kind in _OPT_IN_UPDATES)
            ):
                continue
            keep.append(update)
        self._pending = keep
        return keep

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u.get("update_id", 0) >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _violation(self, record: RecordedRequest, issue: Issue) -> None:
        violation = Violation(
            record.canonical or record.method, issue.field or None, issue.message, record
        )
        log.warning("Bot API violation: %s", violation)
        self.violations.append(violation)

    # -- internals: HTTP -----------------------------------------------------------------------

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = scope["path"]
        response: Response
        if m := _API_PATH.fullmatch(path):
            response = await self._api_request(request, m["token"], m["method"])
        elif m := _FILE_PATH.fullmatch(path):
            content = self.files.get(m["path"]) if m["token"] == self.token else None
            response = (
                Response(content, media_type="application/octet-stream")
                if content is not None
                else JSONResponse(ApiError(404, "Not Found").payload(), status_code=404)
            )
        else:
            response = JSONResponse(ApiError(404, "Not Found").payload(), status_code=404)
        await response(scope, receive, send)

    async def _api_request(self, request: Request, token: str, method: str) -> Response:
        pre_issues: list[Issue] = []
        params: dict[str, Any] = {}
        files: dict[str, Any] = {}
        content_type = request.headers.get("content-type", "")
        body = await request.body()
        pairs: list[tuple[str, str]] = parse_qsl(request.url.query, keep_blank_values=True)
        encoding = "query" if pairs else "none"
        try:
            if content_type.startswith("application/json"):
                decoded = json.loads(body.decode("utf-8")) if body else {}
                if not isinstance(decoded, dict):
                    raise ValueError("the JSON body must be an object")
                params = decoded
                encoding = "json"
            elif content_type.startswith("application/x-www-form-urlencoded"):
                pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                encoding = "form"
            elif content_type.startswith("multipart/form-data"):
                fields, files = _parse_multipart(body, content_type)
                pairs += fields
                encoding = "multipart"
            elif body:
                raise ValueError(f"unsupported Content-Type {content_type!r}")
        except (ValueError, UnicodeDecodeError) as exc:
            pre_issues.append(Issue("", f"can't parse the request body: {exc}"))
        for name, count in Counter(name for name, _ in pairs).items():
            if count > 1:
                pre_issues.append(Issue(name, "parameter sent more than once"))
        if encoding != "json":
            params = dict(pairs)
        record = RecordedRequest(method, self.spec.method_name(method), params, encoding)
        if files:
            record.params = {**params, **files}
        status, payload = await self._dispatch(record, token, files, pre_issues, request)
        if isinstance(payload, str):
            return Response(payload, status_code=status, media_type="text/html")
        return JSONResponse(payload, status_code=status)

    async def _dispatch(
        self,
        record: RecordedRequest,
        token: str,
        files: dict[str, Any],
        pre_issues: list[Issue],
        request: Request | None,
    ) -> tuple[int, dict[str, Any] | str]:
        self.requests.append(record)
        _current_request.set(request)
        try:
            result = await self._process(record, token, files, pre_issues, request)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status = exc.status
            payload = exc.raw_body if exc.raw_body is not None else exc.payload()
            if exc.violation:
                pass
            elif exc.rate_limited:
                self.rate_limited.append(record)
            else:
                self.errors.append(record)
        record.status, record.response = status, payload
        return status, payload

    async def _process(
        self,
        record: RecordedRequest,
        token: str,
        files: dict[str, Any],
        pre_issues: list[Issue],
        request: Request | None,
    ) -> Any:
        canonical = record.canonical
        self.calls[canonical or record.method] += 1
        if token != self.token:
            self._violation(record, Issue("", f"wrong bot token {token!r}"))
            raise ApiError(401, "Unauthorized", violation=True)
        if canonical is None:
            self._violation(record, Issue("", f"{record.method!r} is not a Bot API method"))
            raise ApiError(404, "Not Found", violation=True)
        form = record.encoding != "json"
        raw = {k: v for k, v in record.params.items() if k not in files}
        params, issues = self.spec.validate_call(canonical, raw, form=form, files=files)
        issues = pre_issues + issues
        if issues:
            for issue in issues:
                self._violation(record, issue)
            raise ApiError(400, f"Bad Request: {issues[0]}", violation=True)
        for name, value in files.items():
            self.uploads.append((canonical, name, value))
        await self._apply_delay(canonical, after=False)
        self._apply_fault(canonical)
        chat_id: int | None = None
        if "chat_id" in params:
            chat_id = self._resolve_chat_id(params["chat_id"])
            params["chat_id"] = chat_id
        if chat_id is not None and chat_id in self._blocked and _reaches_user(canonical):
            raise ApiError(403, BLOCKED)
        self._apply_rate_limit(canonical, chat_id)
        if canonical in self._overrides:
            result = self._overrides[canonical]
            if callable(result):
                result = result(params)
                if inspect.isawaitable(result):
                    result = await result
        else:
            if canonical in self._handlers:
                result = await self._handlers[canonical](params)
            else:
                result = await self._generic(params, canonical)
            self._self_check(canonical, result)
        await self._apply_delay(canonical, after=True)
        return result

    def _self_check(self, method: str, result: Any) -> None:
        """Record results of the double's own that do not match the spec's return type."""
        if (result is True and method in self.unsimulated) or method == "getUpdates":
            return  # updates were checked when queued (raw ones are meant to be malformed)
        returns = self.spec.returns(method)
        types = [t for t in returns if t != "True"] or ["Boolean"]
        _, issues = self.spec.check_value(result, types, "result", form=False)
        for issue in issues:
            log.error("the Telegram double answered %s with an invalid result: %s", method, issue)
            self.internal_errors.append(f"{method}: {issue}")

    async def _apply_delay(self, method: str, *, after: bool) -> None:
        for d in list(self._delays):
            if d.after == after and d.method in (method, "*"):
                if d.remaining is not None:
                    d.remaining -= 1
                    if d.remaining <= 0:
                        self._delays.remove(d)
                await self._sleep(d.seconds)
                return

    def _apply_fault(self, method: str) -> None:
        for fault in self._faults:
            if fault.method in (method, "*") and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                status = fault.status
                if status == 429:
                    retry = fault.retry_after or 1
                    raise ApiError(
                        429,
                        fault.description or f"Too Many Requests: retry after {retry}",
                        retry_after=retry,
                    )
                if status == 502 and fault.description is None:
                    raise ApiError(
                        502,
                        "Bad Gateway",
                        raw_body="<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                        "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                        "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
                    )
                raise ApiError(
                    status,
                    fault.description or _default_description(status),
                    retry_after=fault.retry_after,
                )

    def _apply_rate_limit(self, method: str, chat_id: int | None) -> None:
        if not self.rate_limit or not _is_message(method, self.rate_limit_edits):
            return
        now = time.monotonic()
        self._global_bucket.rate, self._global_bucket.burst = self.global_rate, self.global_burst
        buckets = [self._global_bucket]
        if chat_id is not None:
            bucket = self._chat_buckets.get(chat_id)
            if bucket is None:
                bucket = self._chat_buckets[chat_id] = _TokenBucket(self.chat_rate, self.chat_burst)
            buckets.append(bucket)
        wait = max(b.wait_needed(now) for b in buckets)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry}", retry_after=retry, rate_limited=True
            )
        for b in buckets:
            b.take()

    # -- internals: webhook --------------------------------------------------------------------

    async def _webhook_loop(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while not self._closing:
                hook = self._webhook
                ready = self._deliverable() if hook else []
                if not hook or not ready:
                    await self._wait_change(1.0)
                    continue
                update = ready[0]
                headers = {"Content-Type": "application/json"}
                if hook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
                try:
                    response = await client.post(
                        hook["url"], content=json.dumps(update), headers=headers
                    )
                except httpx.HTTPError as exc:
                    self._webhook_error = (int(time.time()), f"Connection failed: {exc!r}")
                    self._bump()
                    await self._sleep(self.webhook_retry_delay)
                    continue
                if not 200 <= response.status_code < 300:
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {response.status_code} "
                        f"{response.reason_phrase}",
                    )
                    self._bump()
                    await self._sleep(self.webhook_retry_delay)
                    continue
                if update in self._pending:
                    self._pending.remove(update)
                self.webhook_deliveries.append(update)
                self._bump()
                await self._webhook_reply(response)

    async def _webhook_reply(self, response: httpx.Response) -> None:
        """A webhook answer may itself be a method call (JSON with a `method` field)."""
        if not response.content or "json" not in response.headers.get("content-type", ""):
            return
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict) or "method" not in body:
            return
        params = {k: v for k, v in body.items() if k != "method"}
        method = str(body["method"])
        record = RecordedRequest(method, self.spec.method_name(method), params, "webhook-reply")
        await self._dispatch(record, self.token, {}, [], None)

    # -- internals: method handlers ------------------------------------------------------------

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "offset" in params:
            self._confirm(params["offset"])
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"]) or None
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = max(params.get("timeout", 0), 0)
        self._poll_generation += 1
        generation = self._poll_generation
        self._bump()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = self._deliverable()
            if ready:
                return ready[:limit]
            if generation != self._poll_generation:
                request = _current_request.get()
                if request is not None and await request.is_disconnected():
                    return []  # the client gave up on this poll: nobody to tell
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            remaining = deadline - loop.time()
            if self._closing or remaining <= 0:
                return []
            await self._wait_change(min(remaining, 0.5))

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params["url"]
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if not url:
            self._webhook = None
        else:
            self._webhook = {
                "url": url,
                "secret_token": params.get("secret_token"),
                "max_connections": params.get("max_connections", 40),
                "ip_address": params.get("ip_address"),
            }
        self._webhook_error = None
        self._bump()
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = None
        self._bump()
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        hook = self._webhook
        info: dict[str, Any] = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._deliverable()),
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            if hook.get("ip_address"):
                info["ip_address"] = hook["ip_address"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _parsed(self, params: dict[str, Any], key: str) -> tuple[str, list[dict[str, Any]]]:
        entities_key = "entities" if key == "text" else f"{key}_entities"
        parsed = parse_text(
            params[key],
            params.get("parse_mode"),
            params.get(entities_key),
            strict_gt=self.spec.strict_gt,
        )
        return parsed.text, parsed.entities

    def _base_message(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": dict(self.bot_user),
            "chat": dict(self._chat(chat_id)),
            "date": int(time.time()),
        }
        reply = params.get("reply_parameters")
        if reply:
            target_chat = reply.get("chat_id", chat_id)
            target_chat = self._resolve_chat_id(target_chat)
            target = self._messages.get(target_chat, {}).get(reply["message_id"])
            if target is not None:
                message["reply_to_message"] = {
                    k: v for k, v in target.items() if k != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        return message

    def _finish_send(
        self, method: str, message: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._store(message, from_bot=True)
        self._record_bot_message("sent", method, message, params)
        return message

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params["chat_id"]
        message = self._base_message(chat_id, params)
        text, entities = self._parsed(params, "text")
        message["text"] = text
        if entities:
            message["entities"] = entities
        if params.get("link_preview_options"):
            message["link_preview_options"] = params["link_preview_options"]
        return self._finish_send("sendMessage", message, params)

    async def _send_media_group(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        group_id = str(next(self._callback_ids))
        sent = []
        for item in params["media"]:
            message = self._base_message(params["chat_id"], params)
            message["media_group_id"] = group_id
            kind = {"photo": "sendPhoto", "document": "sendDocument"}.get(item.get("type", ""))
            message.update(_media_content(kind or "", item, next(self._file_ids)))
            if item.get("caption"):
                parsed = parse_text(
                    item["caption"],
                    item.get("parse_mode"),
                    item.get("caption_entities"),
                    strict_gt=self.spec.strict_gt,
                )
                message["caption"] = parsed.text
                if parsed.entities:
                    message["caption_entities"] = parsed.entities
            sent.append(self._finish_send("sendMediaGroup", message, params))
        return sent

    async def _copy_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params["chat_id"]
        source_chat = self._resolve_chat_id(params["from_chat_id"])
        source = self._messages.get(source_chat, {}).get(params["message_id"])
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        message = self._base_message(chat_id, params)
        for key, value in source.items():
            if key not in message and key not in ("reply_markup", "edit_date", "from", "chat"):
                message[key] = value
        if "caption" in params:
            message["caption"], entities = self._parsed(params, "caption")
            if entities:
                message["caption_entities"] = entities
        self._finish_send("copyMessage", message, params)
        return {"message_id": message["message_id"]}

    async def _generic(self, params: dict[str, Any], method: str) -> Any:
        returns = self.spec.returns(method)
        if method in _PROFILE_TEXTS:
            key = _PROFILE_TEXTS[method]
            store = self._profile.setdefault(key, {})
            if method.startswith("set"):
                store[params.get("language_code", "")] = params.get(key, "")
                return True
            return {key: store.get(params.get("language_code", ""), "")}
        if (
            returns == ["Message"]
            and method.startswith(("send", "forward"))
            and "chat_id" in params
        ):
            message = self._base_message(params["chat_id"], params)
            if method == "forwardMessage":
                source_chat = self._resolve_chat_id(params["from_chat_id"])
                source = self._messages.get(source_chat, {}).get(params["message_id"])
                if source is None:
                    raise ApiError(400, "Bad Request: message to forward not found")
                for key, value in source.items():
                    if key not in message and key not in ("edit_date", "reply_to_message"):
                        message[key] = value
                message["forward_origin"] = {"type": "hidden_user", "date": source["date"]}
                message["forward_origin"]["sender_user_name"] = "Forwarded"
            message.update(_media_content(method, params, next(self._file_ids)))
            if params.get("caption"):
                message["caption"], entities = self._parsed(params, "caption")
                if entities:
                    message["caption_entities"] = entities
            return self._finish_send(method, message, params)
        if returns != ["Boolean"]:
            self.unsimulated[method] += 1
        return True

    def _editable(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The message an edit targets, or None for inline messages."""
        if "inline_message_id" in params:
            return None
        chat_id, message_id = params["chat_id"], params["message_id"]
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if (chat_id, message_id) not in self._bot_message_ids:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _commit_edit(
        self, method: str, old: dict[str, Any], new: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        markup = params.get("reply_markup")
        if markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)
        same = {k: v for k, v in old.items() if k != "edit_date"} == new
        if same and self.not_modified_errors:
            raise ApiError(400, NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._store(new, from_bot=True)
        self._record_bot_message("edited", method, new, params)
        return new

    async def _edit_message_text(self, params: dict[str, Any]) -> Any:
        old = self._editable(params)
        if old is None:
            return True
        if "text" not in old:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        new = {k: v for k, v in old.items() if k not in ("edit_date", "entities")}
        if "text" in params:
            new["text"], entities = self._parsed(params, "text")
            if entities:
                new["entities"] = entities
        return self._commit_edit("editMessageText", old, new, params)

    async def _edit_message_caption(self, params: dict[str, Any]) -> Any:
        old = self._editable(params)
        if old is None:
            return True
        if "text" in old:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        new = {k: v for k, v in old.items() if k not in ("edit_date", "caption_entities")}
        new.pop("caption", None)
        if params.get("caption"):
            new["caption"], entities = self._parsed(params, "caption")
            if entities:
                new["caption_entities"] = entities
        return self._commit_edit("editMessageCaption", old, new, params)

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        old = self._editable(params)
        if old is None:
            return True
        new = {k: v for k, v in old.items() if k != "edit_date"}
        return self._commit_edit("editMessageReplyMarkup", old, new, params)

    async def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_messages = self._messages.get(params["chat_id"], {})
        if chat_messages.pop(params["message_id"], None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._bump()
        return True

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query = self._callback_queries.get(params["callback_query_id"])
        if query is None or query["answered"]:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        query["answered"] = True
        answer = {k: v for k, v in params.items() if k != "callback_query_id"}
        answer["callback_query_id"] = params["callback_query_id"]
        self.callback_answers.setdefault(query["chat_id"], []).append(answer)
        self._bump()
        return True

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        key = (_scope_key(params.get("scope")), params.get("language_code", ""))
        self._commands[key] = list(params["commands"])
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        key = (_scope_key(params.get("scope")), params.get("language_code", ""))
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = (_scope_key(params.get("scope")), params.get("language_code", ""))
        self._commands.pop(key, None)
        return True

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat(params["chat_id"])
        self.chat_actions.setdefault(params["chat_id"], []).append(params["action"])
        self._bump()
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{abs(hash(file_id)) % 10**10}",
            "file_size": len(self.files[file_id]),
            "file_path": file_id,
        }


class ScriptedUser:
    """A Telegram user in a private chat with the bot, driven by the test."""

    def __init__(
        self,
        double: TelegramDouble,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        is_premium: bool | None,
    ) -> None:
        self.double = double
        self.id = user_id
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            user["last_name"] = chat["last_name"] = last_name
        if username:
            user["username"] = chat["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        self.user = user
        self.chat = chat
        double._chats[user_id] = chat
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        return self.id

    # -- actions -------------------------------------------------------------------------------

    def _message(self, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": self.double._new_message_id(self.id),
            "from": dict(self.user),
            "chat": dict(self.chat),
            "date": int(time.time()),
            **content,
        }
        self.double._store(message, from_bot=False)
        return message

    def _mark(self) -> None:
        self._cursor = len(self.double._transcripts.get(self.id, []))

    async def send_text(self, text: str) -> dict[str, Any]:
        """Send a text message (commands such as "/start payload" get a bot_command entity)."""
        content: dict[str, Any] = {"text": text}
        entities = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in _COMMAND_TOKEN.finditer(text)
        ]
        if entities:
            content["entities"] = entities
        return await self._send(content)

    async def start(self, payload: str | None = None) -> dict[str, Any]:
        """Send /start (with a deep-link payload)."""
        return await self.send_text(f"/start {payload}" if payload else "/start")

    async def share_contact(
        self, phone_number: str, *, first_name: str | None = None, own: bool = True
    ) -> dict[str, Any]:
        """Share a contact - the user's own (user_id set) unless `own=False`."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.user["first_name"],
        }
        if self.user.get("last_name") and own:
            contact["last_name"] = self.user["last_name"]
        if own:
            contact["user_id"] = self.id
        return await self._send({"contact": contact})

    async def _send(self, content: dict[str, Any]) -> dict[str, Any]:
        self._mark()
        message = self._message(**content)
        self.double.queue_update({"message": message})
        await asyncio.sleep(0)
        return message

    async def press(self, label: str, *, message_id: int | None = None) -> dict[str, Any]:
        """Press a button by its text or callback_data.

        Inline buttons: in the latest bot message with an inline keyboard (or `message_id`),
        queues a callback_query. Otherwise the current reply keyboard: sends the button's text.
        """
        message = self._inline_target(message_id)
        if message is not None:
            flat = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
            button = next((b for b in flat if b.get("text") == label), None) or next(
                (b for b in flat if b.get("callback_data") == label), None
            )
            if button is not None:
                if "callback_data" not in button:
                    raise ValueError(f"button {label!r} has no callback_data: {button}")
                self._mark()
                query_id = str(next(self.double._callback_ids))
                self.double._callback_queries[query_id] = {"chat_id": self.id, "answered": False}
                query = {
                    "id": query_id,
                    "from": dict(self.user),
                    "message": message,
                    "chat_instance": str(-(10**18) + self.id),
                    "data": button["callback_data"],
                }
                self.double.queue_update({"callback_query": query})
                await asyncio.sleep(0)
                return query
        keyboard = self.double._reply_keyboards.get(self.id)
        for row in (keyboard or {}).get("keyboard", []):
            for b in row:
                text = b if isinstance(b, str) else b.get("text")
                if text == label:
                    if isinstance(b, dict) and b.get("request_contact"):
                        raise ValueError(f"{label!r} requests a contact: use share_contact()")
                    return await self.send_text(label)
        raise LookupError(f"no button {label!r} for user {self.id}; visible: {self.buttons()}")

    def _inline_target(self, message_id: int | None) -> dict[str, Any] | None:
        current = self.double._messages.get(self.id, {})
        if message_id is not None:
            return current.get(message_id)
        for mid in sorted(current, reverse=True):
            message = current[mid]
            if (self.id, mid) in self.double._bot_message_ids and "inline_keyboard" in (
                message.get("reply_markup") or {}
            ):
                return message
        return None

    async def block(self, *, notify: bool = True) -> None:
        """Block the bot: sends to this chat answer 403 (and a my_chat_member update)."""
        self.double._blocked.add(self.id)
        if notify:
            self._member_update("member", "kicked")
        await asyncio.sleep(0)

    async def unblock(self, *, notify: bool = True) -> None:
        self.double._blocked.discard(self.id)
        if notify:
            self._member_update("kicked", "member")
        await asyncio.sleep(0)

    def _member_update(self, old: str, new: str) -> None:
        def member(status: str) -> dict[str, Any]:
            value: dict[str, Any] = {"status": status, "user": dict(self.double.bot_user)}
            if status == "kicked":
                value["until_date"] = 0
            return value

        self.double.queue_update(
            {
                "my_chat_member": {
                    "chat": dict(self.chat),
                    "from": dict(self.user),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    # -- readers -------------------------------------------------------------------------------

    @property
    def blocked(self) -> bool:
        return self.id in self.double._blocked

    def messages(self) -> list[BotMessage]:
        """Everything the bot sent or edited in this chat, in order."""
        return self.double.messages(self.id)

    def last(self) -> BotMessage | None:
        transcript = self.messages()
        return transcript[-1] if transcript else None

    def last_text(self) -> str | None:
        last = self.last()
        return last.text if last else None

    def buttons(self) -> list[list[str]]:
        """Buttons the user can press now: the latest inline keyboard, else the reply keyboard."""
        target = self._inline_target(None)
        if target is not None:
            return [
                [b.get("text", "") for b in row]
                for row in target["reply_markup"]["inline_keyboard"]
            ]
        keyboard = self.double._reply_keyboards.get(self.id) or {}
        return [
            [b if isinstance(b, str) else b.get("text", "") for b in row]
            for row in keyboard.get("keyboard", [])
        ]

    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        return self.double._reply_keyboards.get(self.id)

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        return list(self.double.callback_answers.get(self.id, []))

    @property
    def chat_actions(self) -> list[str]:
        return list(self.double.chat_actions.get(self.id, []))

    async def wait_for_reply(self, timeout: float = 5.0) -> BotMessage:
        """The next message the bot sent or edited here since this user's last action."""
        transcript = self.double._transcripts.setdefault(self.id, [])
        if not await self.double.wait_until(lambda: len(transcript) > self._cursor, timeout):
            raise TimeoutError(self._diagnose(f"no reply to user {self.id} within {timeout}s"))
        message = transcript[self._cursor]
        self._cursor += 1
        return message

    async def replies(self, *, quiet: float = 0.3, timeout: float = 5.0) -> list[BotMessage]:
        """All replies since the last action, once the bot has been quiet for `quiet` seconds."""
        first = await self.wait_for_reply(timeout)
        out = [first]
        transcript = self.double._transcripts[self.id]
        while True:
            seen = len(transcript)
            await asyncio.sleep(quiet)
            if len(transcript) == seen:
                break
        out.extend(transcript[self._cursor :])
        self._cursor = len(transcript)
        return out

    def _diagnose(self, headline: str) -> str:
        lines = [headline]
        errors = [
            r
            for r in self.double.errors + self.double.rate_limited
            if isinstance(r.params, dict) and str(r.params.get("chat_id")) == str(self.id)
        ]
        if self.double.violations:
            lines.append("Bot API violations:")
            lines += [f"  - {v}" for v in self.double.violations[-10:]]
        if errors:
            lines.append("error answers for this chat:")
            lines += [
                f"  - {r.canonical or r.method} -> {r.status} {r.description}" for r in errors[-10:]
            ]
        if self.double._pending:
            lines.append(f"{len(self.double._pending)} update(s) not yet fetched by the bot")
        return "\n".join(lines)


# set/get pairs of the bot's name and descriptions, per language_code
_PROFILE_TEXTS = {
    "setMyName": "name",
    "getMyName": "name",
    "setMyDescription": "description",
    "getMyDescription": "description",
    "setMyShortDescription": "short_description",
    "getMyShortDescription": "short_description",
}


def _scope_key(scope: dict[str, Any] | None) -> str:
    scope = dict(scope or {"type": "default"})
    if isinstance(scope.get("chat_id"), str) and scope["chat_id"].lstrip("-").isdigit():
        scope["chat_id"] = int(scope["chat_id"])
    return json.dumps(scope, sort_keys=True)


def _reaches_user(method: str) -> bool:
    return method.startswith(("send", "copy", "forward", "edit"))


def _is_message(method: str, edits: bool) -> bool:
    if method in ("sendChatAction", "sendMessageDraft"):
        return False
    if method.startswith(("send", "copyMessage", "forwardMessage")):
        return True
    return edits and method.startswith("editMessage")


def _default_description(status: int) -> str:
    return {
        400: "Bad Request: injected failure",
        401: "Unauthorized",
        403: BLOCKED,
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request",
        429: "Too Many Requests: retry after 1",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(status, f"Error {status}")


def _media_content(method: str, params: dict[str, Any], n: int) -> dict[str, Any]:
    file = {"file_id": f"file-{n}", "file_unique_id": f"unique-{n}"}
    if method == "sendPhoto":
        return {"photo": [{**file, "width": 800, "height": 600}]}
    if method == "sendDocument":
        return {"document": file}
    if method == "sendLocation":
        return {"location": {"latitude": params["latitude"], "longitude": params["longitude"]}}
    if method == "sendContact":
        return {
            "contact": {"phone_number": params["phone_number"], "first_name": params["first_name"]}
        }
    if method == "sendDice":
        return {"dice": {"emoji": params.get("emoji", "🎲"), "value": 1}}
    return {}


async def measure_ceiling(seconds: float = 1.0, *, concurrency: int = 8) -> float:
    """Requests per second a fresh double (rate limiting off) answers to trivial getMe calls."""
    async with TelegramDouble(rate_limit=False) as double:
        return await double.measure_ceiling(seconds, concurrency=concurrency)
