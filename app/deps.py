"""Dependency aliases, declared once (the resources live on app.state, made by the lifespan).

Every dependency is `async def`: FastAPI runs a plain `def` dependency in its threadpool, a
thread hop per dependency per request, which cost most of the API's CPU under load.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.content.model import Content
from app.content.service import ContentStore
from app.conversations.service import Conversations
from app.errors import Unauthorized


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_maker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


async def get_store(request: Request) -> ContentStore:
    store: ContentStore = request.app.state.content_store
    return store


async def get_conversations(request: Request) -> Conversations:
    conversations: Conversations = request.app.state.conversations
    return conversations


async def get_content(store: Annotated[ContentStore, Depends(get_store)]) -> Content:
    return await store.current()


_bearer = HTTPBearer(auto_error=False, description="The service token (JOL_SERVICE_TOKEN).")


async def require_service_token(
    settings: Annotated[Settings, Depends(get_app_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Front ends (the bot, the terminal chat) present the service token."""
    if credentials is None:
        raise Unauthorized("missing service token: send Authorization: Bearer <JOL_SERVICE_TOKEN>")
    if not secrets.compare_digest(
        credentials.credentials.encode(), settings.service_token.encode()
    ):
        raise Unauthorized("invalid service token")


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
MakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_maker)]
StoreDep = Annotated[ContentStore, Depends(get_store)]
ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
ContentDep = Annotated[Content, Depends(get_content)]
