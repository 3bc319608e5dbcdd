"""The bot's Bot API transport: python-telegram-bot's `BaseRequest` over aiohttp.

python-telegram-bot sends through `HTTPXRequest` unless it is given another `BaseRequest` (its
documented networking extension point). Here httpx, httpcore and anyio cost about 2.8 ms of CPU
per Bot API call, aiohttp about 0.8 ms (bench/README.md): on a bot doing a call or two per update
that is most of a core. Everything above the transport is python-telegram-bot's own: it builds
the parameters, reads the status and the JSON answer, and raises its errors (`RetryAfter` for a
429, `Forbidden` for a 403, ...) from what `do_request` returns.

Calls without files go as an `application/json` body (Telegram takes it): one `json.dumps` of the
parameters, UTF-8 as it is, where a form body percent-encodes every Cyrillic letter into six
bytes. Uploads go as `multipart/form-data`, as with httpx.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput  # the type BaseRequest.do_request is declared with


def _given(value: ODVInput[float], default: float | None) -> float | None:
    # Not passed (BaseRequest.DEFAULT_NONE): the default set on this object.
    return default if value is BaseRequest.DEFAULT_NONE else value  # type: ignore[return-value]


def _sum(*parts: float | None) -> float | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession` with at most `connections` connections.

    The timeouts mean what they mean for `HTTPXRequest` (and have its defaults). aiohttp has no
    separate write or pool timeout: waiting for a free connection counts against
    `pool_timeout + connect_timeout`, and the whole call is bounded by the sum of all four, so a
    stalled upload cannot hang for ever.
    """

    __slots__ = (
        "_connect_timeout",
        "_connections",
        "_media_write_timeout",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        *,
        connections: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self._connections = connections
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (it must be made inside the running event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                # Proxy settings from the environment are honoured, as httpx does by default.
                trust_env=True,
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one call; the status and the body of the answer (see `BaseRequest.do_request`)."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        timeout = aiohttp.ClientTimeout(
            total=_sum(pool, connect, write, read),
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )
        kwargs: dict[str, Any] = {}
        if request_data is not None and files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            kwargs["data"] = form
        elif request_data is not None and request_data.parameters:
            kwargs["data"] = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            async with session.request(method, url, timeout=timeout, **kwargs) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are (asyncio.)TimeoutError
            raise TimedOut(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
