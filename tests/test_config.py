from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import (
    DEV_SERVICE_TOKEN,
    ConfigError,
    load_settings,
    normalise_database_url,
    sync_database_url,
)


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "JOL_HOST", "JOL_PORT", "TELEGRAM_API_BASE_URL", "JOL_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'jol.db'}"
    assert settings.default_language == "ky"


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/jol")
    monkeypatch.setenv("JOL_PORT", "9000")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("JOL_DEFAULT_LANGUAGE", "ru")
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/jol"
    assert (settings.port, settings.telegram_bot_token, settings.default_language) == (
        9000,
        "123:abc",
        "ru",
    )
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOL_PORT", "eighty"),
        ("JOL_PORT", "70000"),
        ("JOL_DEFAULT_LANGUAGE", "fr"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org"),
        ("JOL_LOG_FORMAT", "xml"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"invalid configuration: {name}:")


def test_production_refuses_the_development_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOL_ENV", "production")
    monkeypatch.delenv("JOL_SERVICE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="JOL_SERVICE_TOKEN"):
        load_settings(service_token=DEV_SERVICE_TOKEN)


def test_cli_fails_at_start_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "content", "check"],
        env={"JOL_PORT": "x", "PATH": "/usr/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "invalid configuration: JOL_PORT: Input should be a valid integer, unable to parse string "
        "as an integer"
    ]


def test_database_urls() -> None:
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_database_url("postgres://a@b/c") == "postgresql+psycopg://a@b/c"
    assert sync_database_url("sqlite+aiosqlite:///x.db") == "sqlite:///x.db"
    assert sync_database_url("postgresql+psycopg://a@b/c") == "postgresql+psycopg://a@b/c"
