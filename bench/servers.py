"""What the API benchmark serves with uvicorn, each in its own subprocess.

`jol_app()` is the real application, `app.main.create_app()` with the settings from the
environment (the benchmark sets DATABASE_URL, JOL_SERVICE_TOKEN, ...), wrapped in `ServerTiming`:
a pure ASGI wrapper that adds an `x-server-time-us` header, the time from the request reaching
the application to the response headers leaving it. The client reads it to tell server time
from time spent queueing in the client or in the kernel. bare_app.py wraps the same way.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-server-time-us"


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:  # app.state etc. stay reachable
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter_ns()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter_ns() - started) // 1000
                message["headers"] = [*message.get("headers", []), (HEADER, str(elapsed).encode())]
            await send(message)

        await self.app(scope, receive, timed_send)


def jol_app() -> ServerTiming:
    """uvicorn --factory servers:jol_app (settings from the environment)."""
    from app.main import create_app

    return ServerTiming(create_app())
