"""The one audit function: every read of personal data and every change goes through it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEntry


def audit(
    session: AsyncSession, *, actor: str, action: str, target: str | None = None, **details: Any
) -> None:
    """Record who did what to which target (ids only: never the personal data itself)."""
    session.add(AuditEntry(actor=actor, action=action, target=target, details=details))
