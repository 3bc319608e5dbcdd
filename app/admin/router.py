"""Administrators: API keys and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.admin.audit import audit
from app.admin.deps import SessionDep, StaffDep, require_roles
from app.admin.keys import create_key, list_keys, revoke_key
from app.errors import NotFound
from app.models import AdminKey, AuditEntry

router = APIRouter(
    prefix="/admin/v1", tags=["admin"], dependencies=[Depends(require_roles("admin"))]
)


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    countries: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, key: AdminKey) -> KeyOut:
        return cls(
            id=key.id,
            name=key.name,
            role=key.role,
            countries=key.countries,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "editor", "campaign", "consular"]
    countries: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(default_factory=list)
    days: int = Field(90, ge=1, le=730)


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


@router.get("/keys", operation_id="list_keys")
async def get_keys(session: SessionDep) -> list[KeyOut]:
    """List the API keys (never the keys themselves)."""
    return [KeyOut.of(k) for k in await list_keys(session)]


@router.post("/keys", operation_id="create_key", status_code=201)
async def post_key(session: SessionDep, staff: StaffDep, body: KeyIn) -> KeyCreated:
    """Create an API key; the response is the only time it is shown."""
    key, plain = await create_key(
        session, name=body.name, role=body.role, countries=body.countries, days=body.days
    )
    audit(
        session,
        actor=staff.actor,
        action="key.created",
        target=f"key:{key.id}",
        role=key.role,
        countries=key.countries,
    )
    return KeyCreated(**KeyOut.of(key).model_dump(), key=plain)


@router.delete("/keys/{key_id}", operation_id="revoke_key", status_code=204)
async def delete_key(
    session: SessionDep, staff: StaffDep, key_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """Revoke an API key at once."""
    if not await revoke_key(session, key_id):
        raise NotFound(f"no active key {key_id}")
    audit(session, actor=staff.actor, action="key.revoked", target=f"key:{key_id}")
    return Response(status_code=204)


@router.get("/audit", operation_id="list_audit")
async def get_audit(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> list[AuditOut]:
    """Read the audit log, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = (await session.execute(query)).scalars().all()
    return [
        AuditOut(
            id=r.id, at=r.at, actor=r.actor, action=r.action, target=r.target, details=r.details
        )
        for r in rows
    ]
