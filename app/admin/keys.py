"""API keys: `jol_<prefix>_<secret>`. The prefix finds the key; only a SHA-256 of the secret is
stored (the secret is 32 random bytes, so a fast hash is enough); the key is shown once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import JolError
from app.models import ROLES, AdminKey
from app.models.base import utcnow

KEY_PREFIX = "jol"


class InvalidKeyRequest(JolError):
    code = "invalid_key_request"


@dataclass(frozen=True)
class Staff:
    """The key behind a request: who acts, with which role, for which countries."""

    key_id: int
    name: str
    role: str
    countries: tuple[str, ...]

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}:{self.name}"

    def sees_country(self, country: str | None) -> bool:
        return self.role == "admin" or (country is not None and country in self.countries)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    countries: list[str],
    days: int,
    now: dt.datetime | None = None,
) -> tuple[AdminKey, str]:
    """A new key and its plain text (to show once)."""
    if role not in ROLES:
        raise InvalidKeyRequest(f"role must be one of {', '.join(ROLES)}")
    if role == "consular" and not countries:
        raise InvalidKeyRequest("a consular key needs the countries it serves (e.g. ru)")
    if not 1 <= days <= 730:
        raise InvalidKeyRequest("a key lives 1 to 730 days")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = AdminKey(
        name=name,
        role=role,
        countries=sorted({c.lower() for c in countries}),
        prefix=prefix,
        secret_hash=_hash(secret),
        expires_at=(now or utcnow()) + dt.timedelta(days=days),
    )
    session.add(key)
    await session.flush()
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


async def authenticate(
    session: AsyncSession, presented: str, now: dt.datetime | None = None
) -> Staff | None:
    """The staff member a presented key belongs to; None for an unknown, wrong, expired or
    revoked key (the caller does not learn which)."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = (
        await session.execute(select(AdminKey).where(AdminKey.prefix == parts[1]))
    ).scalar_one_or_none()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        return None
    now = now or utcnow()
    if key.revoked_at is not None or key.expires_at <= now:
        return None
    key.last_used_at = now
    return Staff(key.id, key.name, key.role, tuple(key.countries))


async def revoke_key(session: AsyncSession, key_id: int) -> bool:
    key = await session.get(AdminKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True


async def list_keys(session: AsyncSession) -> list[AdminKey]:
    return list((await session.execute(select(AdminKey).order_by(AdminKey.id))).scalars())
