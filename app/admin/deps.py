"""The role guard: every admin route declares the roles allowed, on its router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.keys import Staff, authenticate
from app.db import session_scope
from app.deps import MakerDep
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="A staff API key (jol keys create).")


async def get_session(maker: MakerDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the route returns, rolled back on error."""
    async for session in session_scope(maker):
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def current_staff(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Staff:
    if credentials is None:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    staff = await authenticate(session, credentials.credentials)
    if staff is None:
        raise Unauthorized("invalid, expired or revoked API key")
    request.state.staff = staff
    return staff


StaffDep = Annotated[Staff, Depends(current_staff)]


def require_roles(*roles: str) -> Callable[..., Coroutine[Any, Any, Staff]]:
    """A router dependency: the key's role must be one of `roles` (admin always may)."""
    allowed = {*roles, "admin"}

    async def guard(staff: StaffDep) -> Staff:
        if staff.role not in allowed:
            raise Forbidden(f"this needs the role {' or '.join(sorted(allowed))}")
        return staff

    guard.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the role-matrix test
    return guard
