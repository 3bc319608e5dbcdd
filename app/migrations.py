"""Run the Alembic migrations from code (the CLI, `make run`, the tests)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import ROOT


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(Path(ROOT) / "alembic"))
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`, creating an SQLite file's folder if needed."""
    if "sqlite" in url and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Alembic logs every plugin and step at INFO: keep the operator's output to what matters.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
