"""A few generic handlers: Telegram update -> event -> backend -> replies -> Telegram messages.

No dialogue logic lives here: what to say comes from the backend. The bot only decides how to
show it (HTML, keyboards, editing in place) and how to behave when Telegram or the backend fail.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import (
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ContextTypes

from app.dialogue.frontend import notice
from bot.backend import Backend, BackendError, BackendRejected
from bot.render import Outgoing, plan_messages

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMANDS = {
    "menu": "menu",
    "language": "language",
    "help": "help",
    "sos": "emergency",
    "stop": "stop",
    "back": "back",
    "request": "requests",
    "forget": "forget",
}
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SEND_ATTEMPTS = 4
# Callback queries answered in a webhook reply, remembered until their handler runs (bounded, in
# case an update is never handled).
ANSWERED_IN_REPLY_LIMIT = 10_000
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class FloodGuard:
    """At most `limit` messages a minute per user; the first one over gets a polite notice."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._next_cleanup = clock() + window

    def check(self, user_id: int) -> str:
        """'ok', 'warn' (tell the user once) or 'drop'."""
        now = self.clock()
        if now >= self._next_cleanup:  # once a window: users who went quiet are forgotten
            self.forget_idle()
            self._next_cleanup = now + self.window
        seen = self._seen.setdefault(user_id, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) < self.limit:
            seen.append(now)
            self._warned.pop(user_id, None)
            return "ok"
        if now - self._warned.get(user_id, -self.window) >= self.window:
            self._warned[user_id] = now
            return "warn"
        return "drop"

    def forget_idle(self) -> None:
        now = self.clock()
        for user_id in [u for u, s in self._seen.items() if not s or now - s[-1] > self.window]:
            self._seen.pop(user_id, None)
            self._warned.pop(user_id, None)


async def with_retries(call: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Telegram calls: wait out 429s, retry network errors and 5xx with backoff, a few times.

    Forbidden (the user blocked the bot) and BadRequest are final and raised at once.
    """
    delay = 0.5
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            wait = exc.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            log.warning("%s: Telegram asks to wait %.1fs", what, seconds)
            await asyncio.sleep(seconds)
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, BadRequest | Forbidden) or attempt == SEND_ATTEMPTS:
                raise
            log.warning("%s failed (%s), retry %d in %.1fs", what, exc, attempt, delay)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class JolBot:
    """The handlers, sharing the backend client (set in post_init) and the flood guard."""

    def __init__(self, *, flood_limit: int, default_language: str) -> None:
        self.backend: Backend | None = None
        self.flood = FloodGuard(flood_limit)
        self.default_language = default_language
        self._answered_in_reply: OrderedDict[str, None] = OrderedDict()

    def webhook_reply(self, update: Update) -> dict[str, Any] | None:
        """A Bot API call to make in the answer to the webhook POST of `update`, if any.

        Telegram runs a method given in the webhook's answer, which saves the bot a request of
        its own. The button of a callback query stops spinning that way; its handler then does
        not answer it again. The result of such a call is never known, which is fine here: a
        query too old to answer is ignored anyway.
        """
        query = update.callback_query
        if query is None:
            return None
        self._answered_in_reply[query.id] = None
        while len(self._answered_in_reply) > ANSWERED_IN_REPLY_LIMIT:
            self._answered_in_reply.popitem(last=False)
        return {"method": "answerCallbackQuery", "callback_query_id": query.id}

    # -- updates -> events -----------------------------------------------------------------------

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payload = context.args[0] if context.args else None
        user = update.effective_user
        await self.forward(
            update,
            context,
            {
                "type": "start",
                "payload": payload if payload and PAYLOAD.match(payload) else None,
                "language_hint": user.language_code if user else None,
            },
        )

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message and update.message.text
        name = update.message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self.forward(update, context, {"type": "command", "name": COMMANDS[name]})

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message and update.message.text is not None
        text = update.message.text.strip()
        if not text:
            return
        if len(text) > 4096:
            await self.say(update, context, notice(self.lang(update, context), "too_long"))
            return
        await self.forward(update, context, {"type": "text", "text": text})

    async def on_contact(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message and update.message.contact
        contact = update.message.contact
        own = bool(update.effective_user and contact.user_id == update.effective_user.id)
        await self.forward(
            update, context, {"type": "contact", "phone": contact.phone_number[:32], "own": own}
        )

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        # Answer at once, whatever follows: the user's button stops spinning. In webhook mode
        # the answer went back in the webhook reply already.
        answered = query.id in self._answered_in_reply
        self._answered_in_reply.pop(query.id, None)
        if not answered:
            try:
                await with_retries(query.answer, what="answerCallbackQuery")
            except (BadRequest, Forbidden) as exc:  # too old to answer: carry on
                log.info("callback query not answered: %s", exc)
        if not query.data:
            return
        message = query.message if isinstance(query.message, Message) else None
        await self.forward(
            update, context, {"type": "button", "data": query.data[:64]}, edit=message
        )

    async def on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, a voice message, a sticker...: say what the bot can read."""
        await self.say(update, context, notice(self.lang(update, context), "unsupported"))

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        member: ChatMemberUpdated | None = update.my_chat_member
        if member is None or self.backend is None:
            return
        status = member.new_chat_member.status
        active = status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        try:
            await self.backend.set_reachable(member.from_user.id, active=active)
        except BackendError as exc:
            log.warning("could not record reachability of a user: %s", exc)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update: %r", context.error, exc_info=context.error)

    # -- events -> replies -> messages -----------------------------------------------------------

    def lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        user_data: dict[str, Any] = context.user_data if context.user_data is not None else {}
        if user_data.get("lang"):
            return str(user_data["lang"])
        code = (update.effective_user.language_code or "") if update.effective_user else ""
        code = code.split("-")[0].lower()
        return code if code in ("ky", "ru", "en") else self.default_language

    async def forward(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        event: dict[str, Any],
        *,
        edit: Message | None = None,
    ) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or self.backend is None:
            return
        verdict = self.flood.check(user.id)
        if verdict != "ok":
            if verdict == "warn":
                await self.say(update, context, notice(self.lang(update, context), "slow_down"))
            return
        try:
            result = await self.backend.send_event(user.id, event)
        except BackendError as exc:
            level = logging.ERROR if isinstance(exc, BackendRejected) else logging.WARNING
            log.log(level, "backend could not answer an event: %s", exc)
            await self.say(
                update, context, notice(self.lang(update, context), "backend_unavailable")
            )
            return
        if context.user_data is not None and result.lang:
            context.user_data["lang"] = result.lang
        chat_data: dict[str, Any] = context.chat_data if context.chat_data is not None else {}
        messages, shown = plan_messages(
            result.replies, contact_keyboard_shown=bool(chat_data.get("contact_keyboard"))
        )
        chat_data["contact_keyboard"] = shown
        await self.deliver(context, chat.id, messages, edit=edit)

    async def deliver(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        messages: list[Outgoing],
        *,
        edit: Message | None = None,
    ) -> None:
        """Send the messages in order; navigating a tree edits the pressed message instead."""
        editable = (
            edit is not None
            and len(messages) == 1
            and isinstance(messages[0].markup, InlineKeyboardMarkup | None)
        )
        if editable and edit is not None and await self.edit(context, edit, messages[0]):
            return
        for message in messages:
            try:
                await with_retries(
                    functools.partial(
                        context.bot.send_message,
                        chat_id,
                        message.html,
                        parse_mode=ParseMode.HTML,
                        reply_markup=message.markup,
                        link_preview_options=NO_PREVIEW,
                    ),
                    what="sendMessage",
                )
            except Forbidden:
                await self.unreachable(chat_id)
                return

    async def edit(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message, out: Outgoing
    ) -> bool:
        try:
            await with_retries(
                lambda: context.bot.edit_message_text(
                    out.html,
                    chat_id=message.chat_id,
                    message_id=message.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=out.markup,  # type: ignore[arg-type]
                    link_preview_options=NO_PREVIEW,
                ),
                what="editMessageText",
            )
            return True
        except BadRequest as exc:
            # "message is not modified" means it already shows this; anything else (too old,
            # deleted): send a new message instead.
            return "not modified" in str(exc).lower()
        except Forbidden:
            await self.unreachable(message.chat_id)
            return True

    async def say(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        """A notice from the bot itself (plain text)."""
        chat = update.effective_chat
        if chat is None:
            return
        try:
            await with_retries(lambda: context.bot.send_message(chat.id, text), what="sendMessage")
        except Forbidden:
            await self.unreachable(chat.id)
        except (BadRequest, NetworkError) as exc:
            log.warning("could not send a notice: %s", exc)

    async def unreachable(self, chat_id: int) -> None:
        """The user blocked the bot: record it, never retry."""
        log.info("a user blocked the bot; marking them unreachable")
        if self.backend is None:
            return
        try:
            await self.backend.set_reachable(chat_id, active=False)
        except BackendError as exc:
            log.warning("could not record that a user is unreachable: %s", exc)
