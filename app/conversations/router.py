from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import BaseModel

from app.conversations.service import handle_event, set_reachable
from app.deps import MakerDep, require_service_token
from app.dialogue.types import Event
from app.errors import NotFound

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    dependencies=[Depends(require_service_token)],
)


class ButtonOut(BaseModel):
    label: str
    data: str | None = None
    url: str | None = None


class ReplyOut(BaseModel):
    text: str
    buttons: list[list[ButtonOut]]
    contact_request: str | None = None


class StateOut(BaseModel):
    lang: str | None
    node: str | None
    country: str | None


class EventResult(BaseModel):
    replies: list[ReplyOut]
    state: StateOut
    content_version: int
    revision: int


@router.post(
    "/{channel}/{user_id}/events",
    operation_id="post_conversation_event",
    response_model=EventResult,
)
async def post_event(
    request: Request,
    channel: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$")],
    user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")],
    event: Annotated[Event, Body()],
) -> Response:
    """Run one event of one user through the dialogue and return the replies."""
    # The app's resources are read here rather than through four dependencies, and the reply is
    # serialised straight from the engine's dataclasses (EventResult documents its shape): on the
    # busiest route that is a fifth of the request's CPU.
    state = request.app.state
    settings = state.settings
    outcome = await handle_event(
        maker=state.sessionmaker,
        store=state.content_store,
        conversations=state.conversations,
        channel=channel,
        user_id=user_id,
        event=event,
        default_lang=settings.default_language,
        staff_chat_id=settings.staff_chat_id,
    )
    body = {
        "replies": [
            {
                "text": reply.text,
                "buttons": [
                    [{"label": b.label, "data": b.data, "url": b.url} for b in row]
                    for row in reply.buttons
                ],
                "contact_request": reply.contact_request,
            }
            for reply in outcome.replies
        ],
        "state": {
            "lang": outcome.state.lang,
            "node": outcome.state.node,
            "country": outcome.state.country,
        },
        "content_version": outcome.content_version,
        "revision": outcome.revision,
    }
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        media_type="application/json",
    )


class ReachabilityIn(BaseModel):
    active: bool


@router.put(
    "/{channel}/{user_id}/reachability",
    operation_id="put_conversation_reachability",
    status_code=204,
)
async def put_reachability(
    maker: MakerDep,
    channel: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$")],
    user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")],
    body: ReachabilityIn,
) -> Response:
    """Record that the channel can (or can no longer) reach the user, e.g. they blocked the bot."""
    if not await set_reachable(maker=maker, channel=channel, user_id=user_id, active=body.active):
        raise NotFound(f"no conversation {channel}/{user_id}")
    return Response(status_code=204)
