"""A typed client of the backend's conversation API, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class BackendError(Exception):
    """The backend could not answer."""


class BackendUnavailable(BackendError):
    """Unreachable, timed out or failing (5xx): the user should try again soon."""


class BackendRejected(BackendError):
    """The backend refused the request (4xx): a bug or bad input, not worth retrying."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Button:
    label: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[Button]]
    contact_request: str | None = None


@dataclass(frozen=True)
class EventResult:
    replies: list[Reply]
    lang: str | None


class Backend:
    """The conversation API over one shared httpx client (owned by the application)."""

    def __init__(self, client: httpx.AsyncClient, *, token: str, channel: str = "telegram"):
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}
        self._channel = channel

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, headers=self._headers, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise BackendUnavailable(f"backend answered {response.status_code}")
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "unknown", response.text[:200]
            raise BackendRejected(response.status_code, code, message)
        return response

    async def send_event(self, user_id: int | str, event: dict[str, Any]) -> EventResult:
        """Post one event for the user; the replies to show, in order."""
        response = await self._call(
            "POST", f"/v1/conversations/{self._channel}/{user_id}/events", json=event
        )
        body = response.json()
        replies = [
            Reply(
                text=r["text"],
                buttons=[[Button(**b) for b in row] for row in r["buttons"]],
                contact_request=r.get("contact_request"),
            )
            for r in body["replies"]
        ]
        return EventResult(replies=replies, lang=body["state"]["lang"])

    async def set_reachable(self, user_id: int | str, *, active: bool) -> None:
        try:
            await self._call(
                "PUT",
                f"/v1/conversations/{self._channel}/{user_id}/reachability",
                json={"active": active},
            )
        except BackendRejected as exc:
            if exc.status != 404:  # a user who never wrote: nothing to record
                raise

    async def commands(self, lang: str) -> list[dict[str, str]]:
        response = await self._call("GET", f"/v1/{lang}/commands")
        commands: list[dict[str, str]] = response.json()["commands"]
        return commands

    async def languages(self) -> list[str]:
        response = await self._call("GET", "/v1/languages")
        return [item["code"] for item in response.json()["languages"]]
