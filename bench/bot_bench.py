"""The Telegram bot's webhook path under load: Jol's real bot against python-telegram-bot's own
minimal echo bot, on the same Bot API test double, in the same run.

    .venv/bin/python bench/bot_bench.py                    # the full run (~2 min)
    .venv/bin/python bench/bot_bench.py --quick            # a smoke run (~25 s), indicative only
    .venv/bin/python bench/bot_bench.py --users 50 --updates-per-user 20 [--profile]

Two processes. This one runs the Bot API double (tests/telegram_double, rate limiting off), the N
scripted users and all the timing. The bot runs in a subprocess (bot_echo.py) with its own event
loop and core, serving a webhook on 127.0.0.1 with uvicorn: first a null endpoint and a raw
(no python-telegram-bot) echo to show what the double and the users can do, then the echo bot
(the anchor) and Jol (`bot.app.build_application` + `run_webhook`, the real backend in process
on a fresh SQLite database with the real `content/`) in turns: echo, Jol, echo, Jol, echo (quick:
echo, Jol, echo), each bot in a new process. The double delivers the users' updates by
POSTing them to the webhook (setWebhook with a secret token), as Telegram does.

What this file adds to the double, in a subclass (BenchDouble; tests/telegram_double is not
changed): timestamps, and webhook delivery with up to `max_connections` (40, Telegram's default)
POSTs in flight. The double's own webhook loop posts one update at a time and waits for the
answer, which caps any bot at one update per round trip (`--serial-delivery` uses it anyway).
The harness process also skips httpcore's failed `import sniffio` on every request (as
api_bench.py does); the bot process is left as it runs in production.

Figures, all taken in this process with `time.perf_counter()`:

* latency of an update: from the double starting the webhook POST of the update to the bot's
  first Bot API call for that user's chat arriving at the double (sendMessage, editMessageText,
  answerCallbackQuery, ...). For a button press Jol answers the callback query in its reply
  to the webhook POST, before asking its backend, so "first message" (the first
  sendMessage/editMessageText) is shown too.
* updates/s: updates answered divided by the wall time from the first update's POST to the last
  update's answer (its first message, or its first call when it gets no message).
* the bar: Jol's updates/s at least 0.7x the echo bot's (the mean of each bot's runs), both
  under the same sending policy: no overall send limit of the bot's own (the echo bot has none;
  a 429 is waited out either way). Jol's default limit of 30 messages/s (Telegram's guidance,
  JOL_BOT_MAX_RATE) caps it near 27 updates/s by design; that run is reported beside it (skipped
  by --quick).

Each user plays a closed loop (no think time): it sends one update, waits until the bot's first
message for it has been handled by the double, then sends the next, choosing from the buttons
of the bot's last inline keyboard where it can. Calls are tied to updates by chat: one update
per user is open at a time, so a late second message of update k that arrives after update k+1
was posted would count as k+1's answer ("messages per update" shows how often that can happen).

Safety: everything is on 127.0.0.1; each load ends at a per-phase deadline and after a fixed
number of updates; the bot process is stopped (stdin closed, then SIGTERM, then SIGKILL) and the
temporary directory removed in `finally` blocks. The exit code is 0 whether or not the bar is
met, 1 if the double saw Bot API violations or the benchmark itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for path in (str(ROOT), str(BENCH)):
    if path not in sys.path:
        sys.path.insert(0, path)

# Only 127.0.0.1 is ever contacted: make sure no proxy setting can reroute the double's own
# httpx client, the users' calls or (through the environment it inherits) the bot process.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from api_bench import machine_busy_s, process_cpu_s  # noqa: E402  (the same /proc readers)

if importlib.util.find_spec("sniffio") is None:
    # As in api_bench.py, and for the harness side only (the double and the users): httpcore
    # imports sniffio on every request and pays for the failed import each time when it is not
    # installed. The bot process is left as it runs in production.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

from tests.telegram_double import TelegramDouble  # noqa: E402
from tests.telegram_double.server import RecordedRequest, ScriptedUser  # noqa: E402

HOST = "127.0.0.1"
SECRET = "bench-webhook-secret_0123456789"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
BAR_RATIO = 0.7
PHONE = "+996555123456"
UNKNOWN = {  # as in walks.py: questions the content cannot answer
    "ky": ["салам", "бүгүн аба ырайы кандай", "Москвага билет канча турат", "рахмат"],
    "ru": ["привет", "сколько стоит билет до москвы", "какая погода в стамбуле", "спасибо"],
    "en": ["hello", "how much is a ticket to Moscow", "what is the weather in Istanbul", "thanks"],
}
LANG_HINTS = [
    ("ky", "ky"),
    ("ky", None),
    ("ru", "ru-RU"),
    ("ru", "ru"),
    ("en", "en-GB"),
    ("ru", None),
    ("ky", "ky-KG"),
    ("ru", "ru-RU"),
    ("ky", None),
    ("en", "en"),
]


def is_message_method(method: str) -> bool:
    """Calls that put a message in front of the user (sent or edited)."""
    if method in ("sendChatAction", "sendMessageDraft"):
        return False
    return method.startswith(("send", "editMessage", "copyMessage", "forwardMessage"))


# -- the double, with timestamps ---------------------------------------------------------------


@dataclass(slots=True)
class Rec:
    """One update a scripted user sent, and what became of it (perf_counter seconds)."""

    chat: int
    kind: str = ""
    update_id: int | None = None
    queued_at: float | None = None  # queue_update() by the user
    sent_at: float | None = None  # the double starts POSTing it to the webhook
    delivered_at: float | None = None  # the webhook answered 2xx
    first_call_at: float | None = None  # the bot's first Bot API call for this chat arrived
    first_call: str = ""
    first_msg_at: float | None = None  # ... its first sendMessage / editMessage*
    timed_out: bool = False
    error: str = ""
    fut: asyncio.Future[None] | None = None

    @property
    def done_at(self) -> float | None:
        return self.first_msg_at if self.first_msg_at is not None else self.first_call_at


class _Deliveries(list):  # type: ignore[type-arg]
    """The double's `webhook_deliveries` list, telling us when an update was delivered."""

    def __init__(self, on_append: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._on_append = on_append

    def append(self, update: dict[str, Any]) -> None:
        super().append(update)
        self._on_append(update)


def _update_chat(update: dict[str, Any]) -> int | None:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    if "callback_query" in update:
        return int(update["callback_query"]["from"]["id"])
    return None


class BenchDouble(TelegramDouble):
    """The test double plus timestamps: when an update's POST starts, when calls arrive.

    Only hooks are added (`queue_update`, `_deliverable`, `_process`, `webhook_deliveries`);
    validation, simulation and delivery are the double's own, unchanged.
    """

    def __init__(self, *, serial_delivery: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.serial_delivery = serial_delivery
        self.open: dict[int, Rec] = {}  # chat -> the update its user is waiting on
        self.by_update: dict[int, Rec] = {}
        self.wake_on_delivery = False
        self.extra_messages = 0  # messages after the first for an update (or before it is sent)
        self.webhook_deliveries = _Deliveries(self._delivered)

    def reset_tracking(self) -> None:
        self.open.clear()
        self.by_update.clear()
        self.extra_messages = 0

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        queued = super().queue_update(update)
        chat = _update_chat(queued)
        rec = self.open.get(chat) if chat is not None else None
        if rec is not None and rec.update_id is None:
            rec.update_id = queued["update_id"]
            rec.queued_at = time.perf_counter()
            self.by_update[rec.update_id] = rec
        return queued

    def _deliverable(self) -> list[dict[str, Any]]:
        # The double's own (serial) webhook loop POSTs ready[0] right after this returns, with no
        # await in between. The concurrent loop below stamps each POST itself.
        ready = super()._deliverable()
        if ready and self.serial_delivery:
            rec = self.by_update.get(ready[0].get("update_id", -1))
            if rec is not None and rec.sent_at is None:
                rec.sent_at = time.perf_counter()
        return ready

    async def _webhook_loop(self) -> None:
        """Deliver like Telegram: up to the webhook's `max_connections` (default 40) POSTs at
        once. The double's own loop (`--serial-delivery`) has one POST in flight at a time,
        which caps a fast bot at one update per webhook round trip. Everything else - the
        secret header, retry on failure, a method call in the answer - is done as it does."""
        if self.serial_delivery:
            await super()._webhook_loop()
            return
        # One httpx client with one connection per lane: a single pool shared by 40 requests
        # in flight spends milliseconds per request in httpcore's connection assignment.
        queue: asyncio.Queue[tuple[dict[str, Any], dict[str, Any]]] = asyncio.Queue()
        in_flight: set[int] = set()
        lanes: list[asyncio.Task[None]] = []
        try:
            while not self._closing:
                hook = self._webhook
                if hook:
                    limit = int(hook.get("max_connections") or 40)
                    while len(lanes) < limit:
                        lanes.append(asyncio.create_task(self._lane(queue, in_flight)))
                    for update in self._deliverable():
                        if update["update_id"] not in in_flight:
                            in_flight.add(update["update_id"])
                            queue.put_nowait((hook, update))
                await self._wait_change(1.0)
        finally:
            for lane in lanes:
                lane.cancel()
            if lanes:
                await asyncio.gather(*lanes, return_exceptions=True)

    async def _lane(
        self, queue: asyncio.Queue[tuple[dict[str, Any], dict[str, Any]]], in_flight: set[int]
    ) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(timeout=10, limits=limits, trust_env=False) as client:
            while True:
                hook, update = await queue.get()
                await self._deliver(client, hook, update, in_flight)

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        hook: dict[str, Any],
        update: dict[str, Any],
        in_flight: set[int],
    ) -> None:
        try:
            rec = self.by_update.get(update["update_id"])
            if rec is not None and rec.sent_at is None:
                rec.sent_at = time.perf_counter()
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            try:
                response = await client.post(
                    hook["url"], content=json.dumps(update), headers=headers
                )
            except httpx.HTTPError as exc:
                self._webhook_error = (int(time.time()), f"Connection failed: {exc!r}")
                await self._sleep(self.webhook_retry_delay)
                return
            if not 200 <= response.status_code < 300:
                self._webhook_error = (
                    int(time.time()),
                    "Wrong response from the webhook: "
                    f"{response.status_code} {response.reason_phrase}",
                )
                await self._sleep(self.webhook_retry_delay)
                return
            self._pending = [u for u in self._pending if u is not update]
            self.webhook_deliveries.append(update)
            await self._webhook_reply(response)
        finally:
            in_flight.discard(update["update_id"])
            self._bump()

    def _delivered(self, update: dict[str, Any]) -> None:
        rec = self.by_update.get(update.get("update_id", -1))
        if rec is None:
            return
        rec.delivered_at = time.perf_counter()
        if self.wake_on_delivery and rec.fut is not None and not rec.fut.done():
            rec.fut.set_result(None)

    def _call_chat(self, record: RecordedRequest) -> int | None:
        params = record.params if isinstance(record.params, dict) else {}
        if "chat_id" in params:
            with contextlib.suppress(TypeError, ValueError):
                return int(params["chat_id"])
            return None
        query_id = params.get("callback_query_id")
        if query_id is not None:
            query = self._callback_queries.get(str(query_id))
            return int(query["chat_id"]) if query else None
        return None

    async def _process(self, record: RecordedRequest, *args: Any, **kwargs: Any) -> Any:
        now = time.perf_counter()
        wake: Rec | None = None
        chat = self._call_chat(record) if self.open else None
        rec = self.open.get(chat) if chat is not None else None
        if rec is not None:
            method = record.canonical or record.method
            message = is_message_method(method)
            if rec.sent_at is None:  # the previous update's late message
                self.extra_messages += message
            else:
                if rec.first_call_at is None:
                    rec.first_call_at, rec.first_call = now, method
                if message:
                    if rec.first_msg_at is None:
                        rec.first_msg_at = now
                        wake = rec
                    else:
                        self.extra_messages += 1
        try:
            return await super()._process(record, *args, **kwargs)
        finally:
            # The user may look at this message (its buttons) once the double has handled it.
            if wake is not None and wake.fut is not None and not wake.fut.done():
                wake.fut.set_result(None)


# -- the bot process ---------------------------------------------------------------------------


async def bot_api(tg: TelegramDouble, method: str, params: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        response = await client.post(f"{tg.base_url}{tg.token}/{method}", json=params)
        body = response.json()
        if not body.get("ok"):
            raise RuntimeError(f"{method} failed: {body}")
        return body["result"]


@dataclass
class BotProcess:
    mode: str
    proc: asyncio.subprocess.Process
    url: str
    log_path: Path


@contextlib.asynccontextmanager
async def bot_process(
    mode: str,
    tg: TelegramDouble,
    workdir: Path,
    profile: Path | None = None,
    max_connections: int = 40,
) -> AsyncIterator[BotProcess]:
    """Start bot_echo.py MODE, point the double's webhook at it; always stop it."""
    home = workdir / mode
    home.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{mode}.log"
    cmd = [
        sys.executable,
        str(BENCH / "bot_echo.py"),
        mode,
        "--api-base",
        tg.base_url,
        "--file-base",
        tg.base_file_url,
        "--token",
        tg.token,
        "--secret",
        SECRET,
        "--workdir",
        str(home),
    ]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=home,
            env=dict(os.environ),
        )
    try:
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
        except TimeoutError:
            line = b""
        if not line.startswith(b"READY "):
            raise RuntimeError(
                f"the {mode} bot did not start:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        url = f"http://{HOST}:{int(line.split()[1])}/telegram/webhook"
        await bot_api(
            tg,
            "setWebhook",
            {
                "url": url,
                "secret_token": SECRET,
                "allowed_updates": ALLOWED_UPDATES,
                "max_connections": max_connections,
            },
        )
        yield BotProcess(mode, proc, url, log_path)
    finally:
        with contextlib.suppress(Exception):
            await bot_api(tg, "deleteWebhook", {})
        if proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), timeout=10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        lines = log_path.read_text(errors="replace").splitlines()
        problems = [
            i
            for i, ln in enumerate(lines)
            if ln.startswith(("ERROR", "CRITICAL")) or "Traceback" in ln
        ]
        warns = sum(1 for ln in lines if ln.startswith("WARNING"))
        if problems or warns:
            print(f"  [{mode} bot log: {len(problems)} error lines, {warns} warnings]")
        if problems:  # the first error with its traceback
            for ln in lines[problems[0] : problems[0] + 25]:
                print(f"  | {ln[:200]}")


# -- scripted users ----------------------------------------------------------------------------


def content_questions() -> dict[str, list[str]]:
    """The real content's own example questions, per language (as walks.py uses them)."""
    from walks import CONTENT_DIR, load_content

    content = load_content(CONTENT_DIR)
    return {
        lang: [str(q) for a in lc.articles.values() for q in a.questions]
        for lang, lc in content.languages.items()
    }


@dataclass
class Player:
    user: ScriptedUser
    rng: random.Random
    lang: str
    questions: dict[str, list[str]]

    def text(self) -> str:
        pool = self.questions.get(self.lang) or self.questions["ky"]
        if self.rng.random() < 0.8:
            return self.rng.choice(pool)
        return self.rng.choice(UNKNOWN.get(self.lang, UNKNOWN["ky"]))


Action = Callable[[BenchDouble, Player, int], Awaitable[str]]


def make_players(
    tg: BenchDouble, first_id: int, count: int, seed: int, questions: dict[str, list[str]]
) -> list[Player]:
    players = []
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        lang, hint = LANG_HINTS[i % len(LANG_HINTS)]
        user = tg.user(first_id + i, f"User {i}", language_code=hint)
        players.append(Player(user, rng, lang, questions))
    return players


async def echo_action(tg: BenchDouble, p: Player, step: int) -> str:
    """The echo bot's users: /start, then text questions (the same pool as Jol's users)."""
    if step == 0:
        await p.user.start()
        return "start"
    await p.user.send_text(p.text())
    return "text"


def _callback_data(tg: BenchDouble, p: Player) -> list[str]:
    target = p.user._inline_target(None)
    if target is None:
        return []
    return [
        b["callback_data"]
        for row in target["reply_markup"]["inline_keyboard"]
        for b in row
        if b.get("callback_data")
    ]


async def jol_action(tg: BenchDouble, p: Player, step: int) -> str:
    """Jol's users: /start, then buttons from the last reply, questions, a few commands."""
    rng, user = p.rng, p.user
    if step == 0:
        await user.start("osh-2026" if rng.random() < 0.2 else None)
        return "start"
    keyboard = tg._reply_keyboards.get(user.id) or {}
    asks_contact = any(
        isinstance(b, dict) and b.get("request_contact")
        for row in keyboard.get("keyboard", [])
        for b in row
    )
    if asks_contact and rng.random() < 0.5:
        await user.share_contact(PHONE)
        return "contact"
    options = _callback_data(tg, p)
    r = rng.random()
    if options and r < 0.70:
        # Topic buttons come first, Menu / Back last: users mostly go deeper (as in walks.py).
        choice = options[int(rng.random() ** 1.5 * len(options))]
        with contextlib.suppress(LookupError, ValueError):
            await user.press(choice)
            if choice.startswith("l."):
                p.lang = choice[2:]
            return "button"
    if r < 0.76:
        await user.send_text("/menu")
        return "command"
    if r < 0.79:
        await user.send_text("/help")
        return "command"
    await user.send_text(p.text())
    return "text"


# -- load --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    name: str
    users: int
    recs: list[Rec]
    wall_s: float
    cpu_harness_s: float
    cpu_bot_s: float
    cpu_machine_s: float
    messages: int  # message calls (sendMessage, editMessageText, ...) during the load
    calls: Counter[str]
    errors: int  # non-2xx answers of the double other than violations and 429s
    error_kinds: Counter[str]
    rate_limited: int
    violations: int
    extra_messages: int
    sent_first_s: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    def summarise(self) -> None:
        def ms(later: float | None, earlier: float | None) -> float | None:
            return None if later is None or earlier is None else 1000 * (later - earlier)

        def some(values: list[float | None]) -> list[float]:
            return [v for v in values if v is not None]

        sent = [r for r in self.recs if r.sent_at is not None]
        s = self.stats
        s["updates"] = len([r for r in self.recs if r.update_id is not None])
        starts = some([r.sent_at for r in sent])
        ends = some([r.done_at for r in sent])
        s["answered"] = len(ends)
        s["unanswered"] = s["updates"] - s["answered"]
        if ends:
            t0, t1 = min(starts), max(ends)
            s["span_s"] = t1 - t0
            s["updates_per_s"] = len(ends) / (t1 - t0) if t1 > t0 else float("nan")
        else:
            s["span_s"], s["updates_per_s"] = 0.0, 0.0
        first = some([ms(r.first_call_at, r.sent_at) for r in sent])
        msg = some([ms(r.first_msg_at, r.sent_at) for r in sent])
        queue = some([ms(r.sent_at, r.queued_at) for r in sent])
        post = some([ms(r.delivered_at, r.sent_at) for r in sent])
        for name, values in (("first", first), ("msg", msg), ("queue", queue), ("post", post)):
            s[f"{name}_p50_ms"] = pct(values, 50)
            s[f"{name}_p99_ms"] = pct(values, 99)
            s[f"{name}_max_ms"] = max(values) if values else float("nan")
        s["timed_out"] = sum(r.timed_out for r in self.recs)
        s["action_errors"] = sum(bool(r.error) for r in self.recs)
        s["msgs_per_update"] = self.messages / s["updates"] if s["updates"] else float("nan")
        w = self.wall_s or float("nan")
        s["cpu_harness_pct"] = 100 * self.cpu_harness_s / w
        s["cpu_bot_pct"] = 100 * self.cpu_bot_s / w
        s["cpu_machine_pct"] = 100 * self.cpu_machine_s / w
        # The bot's CPU per answered update: less sensitive to other load than updates/s.
        s["bot_ms_per_update"] = (
            1000 * self.cpu_bot_s / s["answered"] if s["answered"] else float("nan")
        )


async def run_load(
    tg: BenchDouble,
    name: str,
    bot: BotProcess | None,
    players: list[Player],
    action: Action,
    steps: int,
    max_seconds: float,
    update_timeout: float,
) -> LoadResult:
    """Each player sends `steps` updates, one at a time, each after the previous was answered."""
    loop = asyncio.get_running_loop()
    tg.reset_tracking()
    recs: list[Rec] = []
    deadline = loop.time() + max_seconds
    calls_before = Counter(tg.calls)
    errors_before, limited_before = len(tg.errors), len(tg.rate_limited)
    violations_before = len(tg.violations)

    async def play(p: Player) -> None:
        for step in range(steps):
            if loop.time() > deadline:
                return
            rec = Rec(chat=p.user.id, fut=loop.create_future())
            tg.open[p.user.id] = rec
            recs.append(rec)
            try:
                rec.kind = await action(tg, p, step)
            except Exception as exc:
                rec.error = f"{type(exc).__name__}: {exc}"
                continue
            if rec.update_id is None:
                continue
            assert rec.fut is not None
            try:
                await asyncio.wait_for(
                    rec.fut, timeout=min(update_timeout, max(0.1, deadline + 5 - loop.time()))
                )
            except TimeoutError:
                rec.timed_out = True

    cpu_h0, cpu_m0 = time.process_time(), machine_busy_s()
    cpu_b0 = process_cpu_s(bot.proc.pid) if bot else 0.0
    t0 = time.perf_counter()
    await asyncio.gather(*(play(p) for p in players))
    # Let the bot finish the last updates' remaining messages before counting them.
    await asyncio.sleep(0.2)
    wall = time.perf_counter() - t0
    cpu_h = time.process_time() - cpu_h0
    cpu_b = (process_cpu_s(bot.proc.pid) - cpu_b0) if bot else 0.0
    cpu_m = machine_busy_s() - cpu_m0
    calls = Counter(tg.calls)
    calls.subtract(calls_before)
    calls = +calls
    new_errors = tg.errors[errors_before:]
    result = LoadResult(
        name=name,
        users=len(players),
        recs=recs,
        wall_s=wall,
        cpu_harness_s=cpu_h,
        cpu_bot_s=cpu_b,
        cpu_machine_s=cpu_m,
        messages=sum(n for m, n in calls.items() if is_message_method(m)),
        calls=calls,
        errors=len(new_errors),
        error_kinds=Counter(
            f"{r.canonical or r.method} {r.status} {r.description[:60]}" for r in new_errors
        ),
        rate_limited=len(tg.rate_limited) - limited_before,
        violations=len(tg.violations) - violations_before,
        extra_messages=tg.extra_messages,
    )
    result.summarise()
    tg.reset_tracking()
    return result


async def measure_delivery(
    tg: BenchDouble, bot: BotProcess, users: list[ScriptedUser], seconds: float, cap: int
) -> dict[str, float]:
    """The double's webhook delivery rate to an endpoint that does nothing (the null bot)."""
    loop = asyncio.get_running_loop()
    tg.reset_tracking()
    tg.wake_on_delivery = True
    delivered = 0
    stop_at = loop.time() + seconds
    posts: list[float] = []

    async def sender(user: ScriptedUser) -> None:
        nonlocal delivered
        while loop.time() < stop_at and delivered < cap:
            rec = Rec(chat=user.id, fut=loop.create_future())
            tg.open[user.id] = rec
            await user.send_text("ping")
            assert rec.fut is not None
            await asyncio.wait_for(rec.fut, timeout=10)
            delivered += 1
            if rec.delivered_at is not None and rec.sent_at is not None:
                posts.append(1000 * (rec.delivered_at - rec.sent_at))

    cpu_h0, cpu_b0 = time.process_time(), process_cpu_s(bot.proc.pid)
    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(sender(u) for u in users))
    finally:
        tg.wake_on_delivery = False
        tg.reset_tracking()
    wall = time.perf_counter() - t0
    return {
        "updates_per_s": delivered / wall,
        "post_p50_ms": pct(posts, 50),
        "post_p99_ms": pct(posts, 99),
        "cpu_harness_pct": 100 * (time.process_time() - cpu_h0) / wall,
        "cpu_bot_pct": 100 * (process_cpu_s(bot.proc.pid) - cpu_b0) / wall,
    }


# -- profile -----------------------------------------------------------------------------------


def _package(filename: str, function: str) -> str:
    if filename == "~":
        return "socket I/O (C)" if "socket" in function else "other C builtins"
    if (
        filename.startswith("<frozen importlib")
        or "_distutils_hack" in filename
        or ("__editable__" in filename)
    ):
        return "import machinery"
    if filename.startswith("<"):
        return "other"
    parts = Path(filename).parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return parts[i + 1].removesuffix(".py") if i + 1 < len(parts) else "site-packages"
    if filename.startswith(str(ROOT)):
        rel = Path(filename).relative_to(ROOT).parts
        return f"jol {rel[0]}/" if rel else "jol"
    for name in ("asyncio", "json", "logging", "email", "http", "concurrent", "threading"):
        if f"/{name}/" in filename or filename.endswith(f"/{name}.py"):
            return f"stdlib {name}"
    return "stdlib other"


def print_profile(path: Path, mode: str, top: int = 16) -> None:
    """Own time by package and the top functions, without the time spent idle in epoll."""
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_pkg: Counter[str] = Counter()
    idle = 0.0
    for (filename, _line, function), (_cc, _nc, tt, _ct, _callers) in raw.items():
        if filename == "~" and "poll" in function and "epoll" in function:
            idle += tt
            continue
        by_pkg[_package(filename, function)] += tt
    busy = sum(by_pkg.values()) or 1.0
    print(
        f"  {mode} bot process under cProfile: {busy:.2f} s busy, {idle:.2f} s idle in epoll "
        "(warm-up included; cProfile slows everything down, so read shares, not totals)"
    )
    print("  busy time by package (own time):")
    for pkg, tt in by_pkg.most_common(14):
        print(f"    {pkg:28}{tt:8.2f} s  {100 * tt / busy:5.1f} %")
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(top + 1)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    site = str(Path(sys.prefix) / "lib" / "python3.11" / "site-packages") + "/"
    print("  top functions by own time (epoll included):")
    for ln in lines[start : start + top + 2]:
        print("    " + ln.replace(site, "").replace(str(ROOT) + "/", "")[:160])


# -- the run -----------------------------------------------------------------------------------


def fmt_ms(a: float, b: float) -> str:
    return f"{a:.1f} / {b:.1f} ms"


def print_load(r: LoadResult) -> None:
    s = r.stats
    print(
        f"  {r.name}: {s['answered']:.0f}/{s['updates']:.0f} updates answered in "
        f"{s['span_s']:.2f} s -> {s['updates_per_s']:,.1f} updates/s "
        f"({r.users} users; {s['unanswered']:.0f} unanswered, {s['timed_out']:.0f} timed out, "
        f"{s['action_errors']:.0f} user-side errors)"
    )
    print(
        f"    latency, POST start -> first Bot API call  p50/p99/max "
        f"{s['first_p50_ms']:.1f} / {s['first_p99_ms']:.1f} / {s['first_max_ms']:.1f} ms"
    )
    print(
        f"    latency, POST start -> first message       p50/p99/max "
        f"{s['msg_p50_ms']:.1f} / {s['msg_p99_ms']:.1f} / {s['msg_max_ms']:.1f} ms"
    )
    print(
        f"    double side: wait in the double's queue p50/p99 "
        f"{fmt_ms(s['queue_p50_ms'], s['queue_p99_ms'])}, webhook POST round trip p50/p99 "
        f"{fmt_ms(s['post_p50_ms'], s['post_p99_ms'])}"
    )
    kinds = Counter(rec.kind for rec in r.recs if rec.kind)
    print(
        f"    mix: {', '.join(f'{k} {n}' for k, n in kinds.most_common())}; "
        f"{s['msgs_per_update']:.2f} messages per update ({r.extra_messages} after the first); "
        f"calls: {', '.join(f'{m} {n}' for m, n in r.calls.most_common(5))}"
    )
    others = s["cpu_machine_pct"] - s["cpu_harness_pct"] - s["cpu_bot_pct"]
    print(
        f"    CPU (% of one core over {r.wall_s:.1f} s): double+users "
        f"{s['cpu_harness_pct']:.0f} %, bot process {s['cpu_bot_pct']:.0f} %, other processes "
        f"{max(0.0, others):.0f} % (machine {s['cpu_machine_pct']:.0f} % of "
        f"{100 * (os.cpu_count() or 1)} %); bot CPU {s['bot_ms_per_update']:.2f} ms per update"
    )
    if r.errors or r.rate_limited or r.violations:
        print(
            f"    double answered {r.errors} errors, {r.rate_limited} 429s, "
            f"{r.violations} violations: "
            + "; ".join(f"{k} x{n}" for k, n in r.error_kinds.most_common(3))
        )


async def run(args: argparse.Namespace) -> int:
    quick = args.quick
    users = args.users if args.users is not None else (20 if quick else 50)
    steps = args.updates_per_user if args.updates_per_user is not None else (6 if quick else 20)
    max_seconds = 60.0 if quick else 240.0
    warm_users, warm_steps = min(10, users), 3
    load1, load5, _ = os.getloadavg()
    print(
        f"Jol bot benchmark{' (quick)' if quick else ''}: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load1:.2f} / {load5:.2f} (1 / 5 min)"
    )
    delivery_mode = (
        "serial (the double's own loop: one POST at a time)"
        if args.serial_delivery
        else f"up to max_connections={args.max_connections} POSTs at once"
    )
    print(
        f"{users} scripted users x {steps} updates each, closed loop, no think time; "
        f"warm-up {warm_users} x {warm_steps} before each bot"
    )
    print(f"webhook delivery: {delivery_mode}\n")
    questions = content_questions()
    results: dict[str, LoadResult] = {}
    rounds = 1 if quick else 2  # Jol runs, each followed by an echo run
    with tempfile.TemporaryDirectory(prefix="jol-bot-bench-") as tmp:
        workdir = Path(tmp)
        tg = BenchDouble(rate_limit=False, serial_delivery=args.serial_delivery)
        async with tg:
            tg.set_rate_limit(False)
            next_id = iter(range(100_000, 10**9, 100_000))

            print("== 1. the double's own ceiling ==")
            ceiling = await tg.measure_ceiling(1.0 if quick else 3.0, concurrency=8)
            print(
                f"  measure_ceiling (getMe, 8 connections, client in the double's loop): "
                f"{ceiling:,.0f} req/s"
            )
            async with bot_process(
                "null", tg, workdir, max_connections=args.max_connections
            ) as bot:
                senders = [tg.user(next(next_id) + i, f"Ping {i}") for i in range(users)]
                delivery = await measure_delivery(
                    tg, bot, senders, 1.5 if quick else 3.0, cap=200_000
                )
            print(
                f"  webhook delivery to a null endpoint ({users} users queueing): "
                f"{delivery['updates_per_s']:,.0f} updates/s, POST p50/p99 "
                f"{fmt_ms(delivery['post_p50_ms'], delivery['post_p99_ms'])}; CPU double "
                f"{delivery['cpu_harness_pct']:.0f} %, endpoint {delivery['cpu_bot_pct']:.0f} %"
            )

            # The echo bot and Jol take turns (echo, Jol, echo, Jol, echo; quick: echo, Jol,
            # echo): the machine's speed drifts over minutes, and each bot's figure is the mean
            # of its runs, so both are measured over the same stretch of time.
            jol_title = "Jol bot (real backend, SQLite), no send limit of its own, as the echo bot"
            phases: list[tuple[str, str, str, Action]] = [
                ("raw", "raw", "raw echo (no PTB): harness ceiling", echo_action),
                ("echo", "echo", "PTB echo bot (anchor), run 1", echo_action),
            ]
            for n in range(1, rounds + 1):
                suffix = "" if n == 1 else str(n)
                # The bar: Jol under the echo bot's sending policy (no overall limit of the
                # bot's own; a 429 is waited out either way).
                phases.append((f"jol{suffix}", "jol-nolimit", f"{jol_title}, run {n}", jol_action))
                phases.append(
                    (f"echo{n + 1}", "echo", f"PTB echo bot (anchor), run {n + 1}", echo_action)
                )
            if not args.skip_limited and not quick:
                phases.append(
                    (
                        "jol-limited",
                        "jol",
                        "Jol with its default send limit (30 messages/s, JOL_BOT_MAX_RATE)",
                        jol_action,
                    )
                )
                phases.append(
                    (
                        "echo-aiohttp",
                        "echo-aiohttp",
                        "PTB echo bot on Jol's Bot API transport (aiohttp, 8 connections; "
                        "diagnostic)",
                        echo_action,
                    )
                )
            for number, (key, mode, title, action) in enumerate(phases, start=2):
                profile = (
                    workdir / f"{key}.prof"
                    if args.profile and key in ("echo", "jol", "jol-limited")
                    else None
                )
                print(f"\n== {number}. {title} ==")
                async with bot_process(
                    mode, tg, workdir, profile, max_connections=args.max_connections
                ) as bot:
                    warm = make_players(tg, next(next_id), warm_users, 7, questions)
                    warmed = await run_load(
                        tg, f"{key} warm-up", bot, warm, action, warm_steps, 30.0, 10.0
                    )
                    if warmed.stats["answered"] < warmed.stats["updates"]:
                        print_load(warmed)
                        raise RuntimeError(
                            f"the {key} bot left updates unanswered in the "
                            "warm-up: not measuring it (see its log above)"
                        )
                    players = make_players(tg, next(next_id), users, 1, questions)
                    result = await run_load(tg, key, bot, players, action, steps, max_seconds, 20.0)
                results[key] = result
                print_load(result)
                if profile is not None and profile.exists():
                    print_profile(profile, key)

            violations = list(tg.violations)
            internal = list(tg.internal_errors)
            limited = len(tg.rate_limited)

    # The runs the bar is judged on, in the order they ran.
    echo_keys = ["echo", *(f"echo{n + 1}" for n in range(1, rounds + 1))]
    jol_keys = ["jol", *(f"jol{n}" for n in range(2, rounds + 1))]
    echo_ups = [results[k].stats["updates_per_s"] for k in echo_keys]
    jol_ups = [results[k].stats["updates_per_s"] for k in jol_keys]
    echo, jol = results["echo"].stats, results["jol"].stats
    anchor = statistics.fmean(echo_ups)
    jol_mean = statistics.fmean(jol_ups)
    ratio = jol_mean / anchor if anchor else 0.0
    verdict = "PASS" if ratio >= BAR_RATIO else "MISS"
    # Each Jol run against the echo runs on either side of it: how much the ratio moves.
    pairwise = [jol_ups[i] / statistics.fmean(echo_ups[i : i + 2]) for i in range(len(jol_ups))]
    raw_ups = results["raw"].stats["updates_per_s"]
    echo_vs_raw = anchor / raw_ups if raw_ups else float("nan")
    others = {
        k: max(
            0.0, r.stats["cpu_machine_pct"] - r.stats["cpu_harness_pct"] - r.stats["cpu_bot_pct"]
        )
        for k, r in results.items()
    }
    rows: list[tuple[str, str, str, str]] = [
        ("double ceiling (getMe)", f"{ceiling:,.0f} req/s", "", ""),
        ("double webhook delivery", f"{delivery['updates_per_s']:,.0f} updates/s", "", ""),
        ("raw echo updates/s", f"{results['raw'].stats['updates_per_s']:,.0f}", "harness", ""),
        (
            "raw echo p50 / p99",
            fmt_ms(results["raw"].stats["first_p50_ms"], results["raw"].stats["first_p99_ms"]),
            "",
            "",
        ),
        ("PTB echo updates/s, each run", " / ".join(f"{u:,.1f}" for u in echo_ups), "", ""),
        ("PTB echo updates/s, mean", f"{anchor:,.1f}", "anchor", ""),
        (
            "PTB echo p50 / p99 (1st run)",
            fmt_ms(echo["first_p50_ms"], echo["first_p99_ms"]),
            "",
            "",
        ),
        # The anchor is only an anchor if the double and the users are not what limits it.
        (
            "PTB echo / raw echo updates/s",
            f"{echo_vs_raw:.2f}",
            "< 0.8",
            "ok" if echo_vs_raw < 0.8 else "HARNESS-BOUND?",
        ),
        (
            "double+users CPU in echo runs",
            " / ".join(f"{results[k].stats['cpu_harness_pct']:.0f}" for k in echo_keys) + " %",
            "< 90 %",
            "ok"
            if max(results[k].stats["cpu_harness_pct"] for k in echo_keys) < 90
            else "HARNESS-BOUND?",
        ),
        (
            "bot process CPU: echo / Jol (1st runs)",
            f"{echo['cpu_bot_pct']:.0f} / {jol['cpu_bot_pct']:.0f} %",
            "",
            "",
        ),
        (
            "bot CPU ms per update: echo runs",
            " / ".join(f"{results[k].stats['bot_ms_per_update']:.2f}" for k in echo_keys),
            "",
            "",
        ),
        (
            "bot CPU ms per update: Jol runs",
            " / ".join(f"{results[k].stats['bot_ms_per_update']:.2f}" for k in jol_keys),
            "",
            "",
        ),
        (
            "others' CPU, run by run",
            " / ".join(f"{others[k]:.0f}" for k in results if k in echo_keys + jol_keys) + " %",
            "",
            "",
        ),
        (
            "Jol (no send limit) updates/s, each run",
            " / ".join(f"{u:,.1f}" for u in jol_ups),
            "",
            "",
        ),
        ("Jol (no send limit) updates/s, mean", f"{jol_mean:,.1f}", "", ""),
        ("Jol p50 / p99 (first call)", fmt_ms(jol["first_p50_ms"], jol["first_p99_ms"]), "", ""),
        ("Jol p50 / p99 (first message)", fmt_ms(jol["msg_p50_ms"], jol["msg_p99_ms"]), "", ""),
        (
            "Jol / echo, each Jol run (echo runs beside it)",
            " / ".join(f"{r:.2f}" for r in pairwise),
            "",
            "",
        ),
        ("Jol / echo updates/s (means)", f"{ratio:.2f}", f">= {BAR_RATIO}", verdict),
    ]
    if "jol-limited" in results:
        nl = results["jol-limited"].stats
        rows += [
            ("Jol, 30 msg/s limit: updates/s", f"{nl['updates_per_s']:,.1f}", "by design", ""),
            (
                "Jol, 30 msg/s limit: p50 / p99",
                fmt_ms(nl["msg_p50_ms"], nl["msg_p99_ms"]),
                "(first msg)",
                "",
            ),
            (
                "Jol, 30 msg/s limit / echo",
                f"{nl['updates_per_s'] / anchor:.2f}" if anchor else "n/a",
                "",
                "",
            ),
            ("Jol, 30 msg/s limit: bot CPU", f"{nl['cpu_bot_pct']:.0f} %", "", ""),
        ]
    if "echo-aiohttp" in results:
        ea = results["echo-aiohttp"].stats["updates_per_s"]
        rows += [
            ("echo bot on Jol's transport: updates/s", f"{ea:,.1f}", "diagnostic", ""),
            ("Jol / echo bot on Jol's transport", f"{jol_mean / ea:.2f}", "", ""),
        ]
    unanswered = sum(int(r.stats["unanswered"]) for r in results.values())
    rows += [
        ("unanswered updates", str(unanswered), "0", "PASS" if unanswered == 0 else "MISS"),
        ("Bot API violations", str(len(violations)), "0", "PASS" if not violations else "FAIL"),
    ]
    print(f"\n== Summary{' (quick run: indicative only)' if quick else ''} ==")
    print(f"  {'figure':46}{'measured':>24}  {'bar':12}result")
    for name, value, bar, mark in rows:
        print(f"  {name:46}{value:>24}  {bar:12}{mark}")
    print(
        "  latency = from the double starting the webhook POST of an update to the bot's first "
        "Bot API call\n  for that chat arriving at the double; updates/s = answered updates / "
        "(last answer - first POST)."
    )
    if args.profile:
        print(
            "  --profile: the echo and Jol bot processes ran under cProfile, which slows them "
            "down a lot:\n  these figures and the ratio are not the benchmark's result."
        )
    if internal or limited:
        print(f"  the double: {len(internal)} internal errors, {limited} 429s (rate limit off)")
    if violations:
        print("  violations:")
        for v in violations[:10]:
            print(f"    - {v}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, default=None, help="scripted users per load (default 50, quick 20)"
    )
    parser.add_argument(
        "--updates-per-user",
        type=int,
        default=None,
        help="updates each user sends (default 20, quick 6)",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the echo and Jol bot processes under cProfile and print where "
        "their time goes (the figures are then slower than normal)",
    )
    parser.add_argument(
        "--serial-delivery",
        action="store_true",
        help="the double's own webhook loop, one POST in flight at a time",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=40,
        help="setWebhook max_connections: concurrent POSTs (default 40, as Telegram's)",
    )
    parser.add_argument(
        "--skip-limited",
        action="store_true",
        help="skip the Jol run with its default send limit and the echo bot with 8 "
        "connections (quick always skips both)",
    )
    args = parser.parse_args()
    if (
        (args.users is not None and not 1 <= args.users <= 500)
        or (args.updates_per_user is not None and not 1 <= args.updates_per_user <= 1000)
        or (not 1 <= args.max_connections <= 100)
    ):
        parser.error("--users must be 1..500, --updates-per-user 1..1000, --max-connections 1..100")
    try:
        return asyncio.run(run(args))
    except RuntimeError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
