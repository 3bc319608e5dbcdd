"""The ceiling for the API benchmark: one FastAPI route, the same path and JSON body as Jol's
conversation endpoint (validated into the same `Event` union), a small JSON reply, no database,
no engine. Served by uvicorn exactly like the real app, so jol/bare shows what Jol's own work
(auth, state load/store in the database, the engine, the reply model) costs on top of the
framework and the server.

    uvicorn --app-dir bench bare_app:app
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, Path
from servers import ServerTiming

from app.dialogue.types import Event

bare = FastAPI(title="bare ceiling")


@bare.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bare.post("/v1/conversations/{channel}/{user_id}/events")
async def post_event(
    channel: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$")],
    user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")],
    event: Annotated[Event, Body()],
) -> dict[str, Any]:
    return {
        "replies": [{"text": f"got {event.type}", "buttons": [], "contact_request": None}],
        "state": {"lang": None, "node": None, "country": None},
        "content_version": 0,
        "revision": 0,
    }


app = ServerTiming(bare)
