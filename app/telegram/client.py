"""The backend's Bot API client: sendMessage with the shared rendering rules, nothing more."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from app.telegram.render import inline_keyboard, markup_to_html, split_markup


@dataclass(frozen=True)
class SendResult:
    """Sent; or why not: final (403 blocked, 400), or to retry (429 with its wait, 5xx)."""

    ok: bool
    final: bool = False
    retry_after: float | None = None
    error: str | None = None


class BotApiClient:
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, token: str) -> None:
        self._client = client
        self._url = (
            f"{base_url.rstrip('/')}{token}"
            if base_url.endswith("/bot")
            else (f"{base_url}{token}")
        )

    async def send_markup(
        self, chat_id: str, text: str, buttons: list[list[dict[str, Any]]] | None = None
    ) -> SendResult:
        """Send a text in the backend's markup (split if long; buttons on the last part)."""
        parts = split_markup(text)
        for index, part in enumerate(parts):
            params: dict[str, Any] = {
                "chat_id": chat_id,
                "text": markup_to_html(part),
                "parse_mode": "HTML",
                "link_preview_options": json.dumps({"is_disabled": True}),
            }
            keyboard = inline_keyboard(buttons or []) if index == len(parts) - 1 else None
            if keyboard:
                params["reply_markup"] = json.dumps(keyboard)
            result = await self._call("sendMessage", params)
            if not result.ok:
                return result
        return SendResult(ok=True)

    async def _call(self, method: str, params: dict[str, Any]) -> SendResult:
        try:
            response = await self._client.post(f"{self._url}/{method}", data=params)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, error=f"{type(exc).__name__}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and body.get("ok"):
            return SendResult(ok=True)
        description = str(body.get("description") or response.status_code)[:200]
        if response.status_code == 429:
            wait = float((body.get("parameters") or {}).get("retry_after") or 1)
            return SendResult(ok=False, retry_after=wait, error=description)
        if response.status_code in (400, 401, 403, 404):
            return SendResult(ok=False, final=True, error=description)
        return SendResult(ok=False, error=description)
