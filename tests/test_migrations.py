"""`alembic upgrade head` from an empty database gives exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.config import sync_database_url
from app.migrations import downgrade, upgrade
from app.models import Base


def drift(url: str) -> list[object]:
    engine = create_engine(sync_database_url(url))
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(sync_database_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert drift(empty_database_url) == []
    assert tables(empty_database_url) == {
        "alembic_version",
        "content_versions",
        "conversations",
        "consular_requests",
        "consular_messages",
        "outbound_messages",
        "admin_keys",
        "audit_log",
        "unanswered_questions",
    }


def test_downgrade_and_upgrade_again(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url)
    assert tables(empty_database_url) == {"alembic_version"}
    upgrade(empty_database_url)
    assert drift(empty_database_url) == []
