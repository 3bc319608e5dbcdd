"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_POSTGRES_URL is set), the app
with the test content published, and the compiled test content for engine tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings

from app.config import Settings, load_settings, normalise_database_url
from app.content.model import Content, compile_bundle
from app.content.service import publish_directory_to
from app.content.validator import check_directory
from app.main import create_app
from app.migrations import upgrade
from tests.content.fixtures import GOOD

# CI must be repeatable: the same examples every run (locally Hypothesis explores new ones).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

SERVICE_TOKEN = "test-service-token-0123456789"
PG_URL = os.environ.get("TEST_POSTGRES_URL")
PG_SKIP = "TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (CI sets it)"


def reset_postgres(url: str) -> None:
    """An empty public schema, so each test migrates from nothing."""
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it, on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    if not PG_URL:
        if os.environ.get("JOL_REQUIRE_POSTGRES"):
            pytest.fail("JOL_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not")
        pytest.skip(PG_SKIP)
    reset_postgres(PG_URL)
    return normalise_database_url(PG_URL)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database migrated to the newest schema by the real migrations."""
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        content_dir=GOOD,
        env="test",
        service_token=SERVICE_TOKEN,
        content_refresh_seconds=0,
        data_dir=tmp_path,
    )


async def publish(settings: Settings, content_dir: Path = GOOD) -> int:
    result = await publish_directory_to(
        settings.resolved_database_url, content_dir=content_dir, review_max_age_days=10_000
    )
    return result.version


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    await publish(settings)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://jol",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
    ) as c:
        yield c


@pytest.fixture(scope="session")
def content() -> Content:
    """The good fixture content, compiled as version 1 (no database)."""
    report = check_directory(GOOD, review_max_age_days=10_000)
    assert report.bundle is not None, [p.format() for p in report.errors]
    return compile_bundle(report.bundle, 1, "test")
