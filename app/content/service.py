"""Content versions: load the files into a new published version; keep the current one compiled."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.answers.index import QuestionIndex
from app.content.loader import checksum
from app.content.model import Content, compile_bundle
from app.content.validator import Report, check_directory
from app.db import create_engine, create_sessionmaker
from app.errors import ContentInvalid, ContentUnavailable
from app.models import ContentVersion
from app.models.base import utcnow


@dataclass(frozen=True)
class LoadResult:
    version: int
    created: bool
    report: Report


async def publish_from_directory(
    session: AsyncSession, *, content_dir: Path, review_max_age_days: int
) -> LoadResult:
    """Validate the files and publish them as a new version, unless they equal the current one."""
    report = check_directory(content_dir, review_max_age_days=review_max_age_days)
    if report.bundle is None:
        raise ContentInvalid(
            f"content has {len(report.errors)} errors", details=[p.format() for p in report.errors]
        )
    digest = checksum(report.bundle)
    current = await published_version(session)
    if current is not None and current.checksum == digest:
        return LoadResult(current.id, False, report)
    if current is not None:
        await session.execute(
            update(ContentVersion).where(ContentVersion.id == current.id).values(status="archived")
        )
        await session.flush()
    version = ContentVersion(
        checksum=digest,
        status="published",
        bundle=report.bundle,
        source="files",
        note=str(content_dir),
        published_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    return LoadResult(version.id, True, report)


async def publish_directory_to(
    url: str, *, content_dir: Path, review_max_age_days: int
) -> LoadResult:
    """`publish_from_directory` into the database at `url`, as a unit of work of its own
    (the CLI, the tests and the benchmarks publish this way)."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await publish_from_directory(
                session, content_dir=content_dir, review_max_age_days=review_max_age_days
            )
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def published_version(session: AsyncSession) -> ContentVersion | None:
    result = await session.execute(
        select(ContentVersion).where(ContentVersion.status == "published")
    )
    return result.scalar_one_or_none()


class ContentStore:
    """The published content, compiled once per version and re-checked every few seconds.

    Checking the version id costs one small query; compiling happens only when it changed (another
    process may have published).
    """

    def __init__(self, maker: async_sessionmaker[AsyncSession], refresh_seconds: float) -> None:
        self._maker = maker
        self._refresh = refresh_seconds
        self._content: Content | None = None
        self._answerer: QuestionIndex | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> Content:
        if self._content is not None and time.monotonic() - self._checked < self._refresh:
            return self._content
        async with self._lock:
            if self._content is not None and time.monotonic() - self._checked < self._refresh:
                return self._content
            async with self._maker() as session:
                row = await session.execute(
                    select(ContentVersion.id, ContentVersion.checksum).where(
                        ContentVersion.status == "published"
                    )
                )
                found = row.first()
                if found is None:
                    raise ContentUnavailable("no content is published: run `jol content load`")
                if self._content is None or self._content.version != found.id:
                    version = await session.get(ContentVersion, found.id)
                    assert version is not None
                    self._content = compile_bundle(version.bundle, version.id, version.checksum)
                    self._answerer = QuestionIndex(self._content)
            self._checked = time.monotonic()
            return self._content

    async def answerer(self) -> QuestionIndex:
        await self.current()
        assert self._answerer is not None
        return self._answerer
