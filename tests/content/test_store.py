"""ContentStore: a version published by another process is compiled and indexed off the event
loop, once, while the previous version keeps being served; then both are swapped together."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.answers.index import QuestionIndex
from app.config import Settings
from app.content import service
from app.content.model import Content
from app.content.service import Compiled, ContentStore
from app.db import create_engine, create_sessionmaker
from tests.conftest import publish
from tests.content.fixtures import apply_edits, copy_good


class Builds:
    """Stands in for QuestionIndex in the store: counts the builds, and each waits for `release`
    (a threading.Event: the build runs in a thread) or raises while `fail` is set."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def __call__(self, content: Content) -> QuestionIndex:
        self.started.append(content.version)
        if not self.release.wait(timeout=10):
            raise TimeoutError("the test never released the build")
        if self.fail:
            raise RuntimeError("the index build broke")
        index = QuestionIndex(content)
        index.built_for = content  # type: ignore[attr-defined]
        return index


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Builds:
    fake = Builds()
    monkeypatch.setattr(service, "QuestionIndex", fake)
    return fake


@pytest.fixture
async def maker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.resolved_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def publish_newer(settings: Settings, tmp_path: Path) -> int:
    newer = copy_good(tmp_path)
    apply_edits(
        newer,
        [
            {
                "file": "en/trees/main.yaml",
                "replace": "text: How to use Jol",
                "with": "text: How to use Jol, version two",
            }
        ],
    )
    return await publish(settings, newer)


def paired(compiled: Compiled) -> bool:
    return compiled.answerer.built_for is compiled.content  # type: ignore[attr-defined]


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_the_old_version_is_served_while_the_new_one_builds_then_both_swap(
    settings: Settings, maker: async_sessionmaker[AsyncSession], builds: Builds, tmp_path: Path
) -> None:
    assert await publish(settings) == 1
    store = ContentStore(maker, refresh_seconds=0, wait_seconds=0)
    first = await store.compiled()
    assert first.content.version == 1 and paired(first)
    builds.release.clear()
    assert await publish_newer(settings, tmp_path) == 2
    # Many requests while the build is held: each answered at once, from version 1.
    served = await asyncio.wait_for(asyncio.gather(*(store.compiled() for _ in range(20))), 5)
    assert {c.content.version for c in served} == {1}
    assert all(c is first for c in served)
    assert (await store.current()).version == 1
    assert await store.answerer() is first.answerer
    await eventually(lambda: builds.started == [1, 2])
    # The event loop runs meanwhile (the build is in a thread), and nothing builds twice.
    for _ in range(5):
        await asyncio.sleep(0.02)
        assert (await store.compiled()) is first
    assert builds.started == [1, 2]
    builds.release.set()
    await eventually(lambda: store._building is None)
    swapped = await store.compiled()
    assert swapped.content.version == 2 and paired(swapped)
    assert (await store.current()).version == 2
    assert await store.answerer() is swapped.answerer
    assert builds.started == [1, 2]


async def test_the_first_version_is_waited_for_and_built_once(
    settings: Settings, maker: async_sessionmaker[AsyncSession], builds: Builds
) -> None:
    await publish(settings)
    store = ContentStore(maker, refresh_seconds=0, wait_seconds=0)
    builds.release.clear()
    asyncio.get_running_loop().call_later(0.2, builds.release.set)
    served = await asyncio.gather(*(store.compiled() for _ in range(10)))
    assert {c.content.version for c in served} == {1}
    assert all(c is served[0] and paired(c) for c in served)
    assert builds.started == [1]


async def test_a_small_new_version_is_served_at_once_within_the_wait(
    settings: Settings, maker: async_sessionmaker[AsyncSession], builds: Builds, tmp_path: Path
) -> None:
    await publish(settings)
    store = ContentStore(maker, refresh_seconds=0, wait_seconds=5)
    await store.compiled()
    await publish_newer(settings, tmp_path)
    assert (await store.current()).version == 2
    assert paired(await store.compiled())


async def test_a_failed_build_is_logged_the_old_version_kept_and_the_build_retried(
    settings: Settings,
    maker: async_sessionmaker[AsyncSession],
    builds: Builds,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await publish(settings)
    store = ContentStore(maker, refresh_seconds=0, wait_seconds=0, retry_seconds=0.3)
    first = await store.compiled()
    builds.fail = True
    await publish_newer(settings, tmp_path)
    with caplog.at_level(logging.ERROR, logger="app.content.service"):
        assert (await store.compiled()) is first
        await eventually(lambda: store._building is None)
    assert builds.started == [1, 2]
    assert "building content version 2 failed" in caplog.text
    assert "the index build broke" in caplog.text
    # Still version 1, and no new attempt before retry_seconds.
    assert (await store.compiled()) is first
    assert (await store.current()).version == 1
    assert builds.started == [1, 2]
    builds.fail = False
    await asyncio.sleep(0.35)
    await store.compiled()  # starts the retry
    await eventually(lambda: store._building is None)
    assert builds.started == [1, 2, 2]
    swapped = await store.compiled()
    assert swapped.content.version == 2 and paired(swapped)
