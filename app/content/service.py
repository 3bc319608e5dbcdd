"""Content versions: load the files into a new published version; keep the current one compiled."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Compiled:
    """A content version and its question index, built and swapped together."""

    content: Content
    answerer: QuestionIndex


def compile_version(bundle: dict[str, Any], version: int, checksum: str) -> Compiled:
    """Compile a published bundle and build its question index (seconds of CPU: run it in a
    thread)."""
    content = compile_bundle(bundle, version, checksum)
    return Compiled(content, QuestionIndex(content))


class ContentStore:
    """The published content, compiled once per version and re-checked every few seconds.

    Checking the version id costs one small query. When it changed (another process published),
    the new version is compiled and indexed in a thread, once however many requests arrive
    meanwhile, and the previous version is served until it is ready: a request that finds the
    build running waits for it only until `wait_seconds` after the build began (so a small content
    is served at once), then gets the previous version. The very first version is waited for. A
    build that fails is logged, the previous version kept, and retried after `retry_seconds`.
    """

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        refresh_seconds: float,
        *,
        wait_seconds: float = 0.5,
        retry_seconds: float = 30.0,
    ) -> None:
        self._maker = maker
        self._refresh = refresh_seconds
        self._wait = wait_seconds
        self._retry = retry_seconds
        self._compiled: Compiled | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()
        # The build running (at most one), and when it began.
        self._building: asyncio.Task[Compiled] | None = None
        self._began = 0.0
        # The last version whose build failed, and when.
        self._failed_version = 0
        self._failed_at = 0.0

    async def current(self) -> Content:
        return (await self.compiled()).content

    async def answerer(self) -> QuestionIndex:
        """The question index of the content `current()` returned last: without a new version
        check (no await), so the two calls in a row always pair."""
        compiled = self._compiled or await self.compiled()
        return compiled.answerer

    async def compiled(self) -> Compiled:
        """The content and its question index, of one version."""
        compiled = self._compiled
        if compiled is not None and time.monotonic() - self._checked < self._refresh:
            return compiled
        async with self._lock:
            compiled = self._compiled
            if compiled is not None and time.monotonic() - self._checked < self._refresh:
                return compiled
            async with self._maker() as session:
                row = await session.execute(
                    select(ContentVersion.id).where(ContentVersion.status == "published")
                )
                found = row.scalar_one_or_none()
            if found is None:
                raise ContentUnavailable("no content is published: run `jol content load`")
            self._checked = time.monotonic()
            if compiled is not None and compiled.content.version == found:
                return compiled
            building = self._building
            if building is None:
                if (
                    compiled is not None
                    and found == self._failed_version
                    and time.monotonic() - self._failed_at < self._retry
                ):
                    return compiled  # it failed a moment ago: keep the previous one for now
                building = self._building = asyncio.create_task(self._build(found))
                self._began = time.monotonic()
        if compiled is None:
            return await asyncio.shield(building)
        remaining = self._began + self._wait - time.monotonic()
        if remaining > 0:
            await asyncio.wait([building], timeout=remaining)
        return self._compiled or compiled

    async def _build(self, version_id: int) -> Compiled:
        """Compile and index `version_id` off the event loop, then swap it in."""
        try:
            async with self._maker() as session:
                version = await session.get(ContentVersion, version_id)
                if version is None:
                    raise ContentUnavailable(f"content version {version_id} is gone")
                bundle, checksum = version.bundle, version.checksum
            compiled = await asyncio.to_thread(compile_version, bundle, version_id, checksum)
        except Exception:
            self._failed_version, self._failed_at = version_id, time.monotonic()
            log.exception("building content version %s failed", version_id)
            if self._compiled is None:
                raise  # nothing to serve instead: the waiting requests get the error
            return self._compiled
        finally:
            self._building = None
        self._compiled = compiled
        log.info("content version %s compiled and indexed", version_id)
        return compiled
