from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel

from app.conversations.service import handle_event, set_reachable
from app.deps import ConversationsDep, MakerDep, SettingsDep, StoreDep, require_service_token
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


@router.post("/{channel}/{user_id}/events", operation_id="post_conversation_event")
async def post_event(
    settings: SettingsDep,
    maker: MakerDep,
    store: StoreDep,
    conversations: ConversationsDep,
    channel: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$")],
    user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")],
    event: Annotated[Event, Body()],
) -> EventResult:
    """Run one event of one user through the dialogue and return the replies."""
    outcome = await handle_event(
        maker=maker,
        store=store,
        conversations=conversations,
        channel=channel,
        user_id=user_id,
        event=event,
        default_lang=settings.default_language,
        staff_chat_id=settings.staff_chat_id,
    )
    return EventResult(
        replies=[ReplyOut.model_validate(r, from_attributes=True) for r in outcome.replies],
        state=StateOut(
            lang=outcome.state.lang, node=outcome.state.node, country=outcome.state.country
        ),
        content_version=outcome.content_version,
        revision=outcome.revision,
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
