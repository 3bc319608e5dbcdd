"""Dependency aliases, declared once (the resources live on app.state, made by the lifespan)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.content.model import Content
from app.content.service import ContentStore
from app.conversations.service import UserLocks
from app.errors import Unauthorized


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_maker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


def get_store(request: Request) -> ContentStore:
    store: ContentStore = request.app.state.content_store
    return store


def get_locks(request: Request) -> UserLocks:
    locks: UserLocks = request.app.state.user_locks
    return locks


async def get_content(store: Annotated[ContentStore, Depends(get_store)]) -> Content:
    return await store.current()


_bearer = HTTPBearer(auto_error=False, description="The service token (JOL_SERVICE_TOKEN).")


def require_service_token(
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
LocksDep = Annotated[UserLocks, Depends(get_locks)]
ContentDep = Annotated[Content, Depends(get_content)]
