"""Settings: one typed object per process, read from the environment (and `.env`).

The variable names are fixed: operators and scripts rely on them (see `.env.example`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_SERVICE_TOKEN = "dev-service-token"
SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class ConfigError(Exception):
    """Invalid configuration; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = Field(
        "development", alias="JOL_ENV", description="Production refuses placeholder secrets."
    )
    data_dir: Path = Field(ROOT / "data", alias="JOL_DATA_DIR")
    database_url: str = Field("", alias="DATABASE_URL")
    telegram_bot_token: str | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL"
    )
    host: str = Field("127.0.0.1", alias="JOL_HOST")
    port: int = Field(8000, ge=1, le=65535, alias="JOL_PORT")
    default_language: Literal["ky", "ru", "en"] = Field("ky", alias="JOL_DEFAULT_LANGUAGE")
    log_format: Literal["text", "json"] = Field("text", alias="JOL_LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="JOL_LOG_LEVEL")
    service_token: str = Field(DEV_SERVICE_TOKEN, alias="JOL_SERVICE_TOKEN", min_length=16)
    content_dir: Path = Field(ROOT / "content", alias="JOL_CONTENT_DIR")
    review_max_age_days: int = Field(365, ge=1, alias="JOL_REVIEW_MAX_AGE_DAYS")
    state_retention_days: int = Field(180, ge=1, alias="JOL_STATE_RETENTION_DAYS")
    content_refresh_seconds: float = Field(2.0, ge=0, alias="JOL_CONTENT_REFRESH_SECONDS")
    staff_chat_id: str | None = Field(
        None, alias="JOL_STAFF_CHAT_ID", pattern=r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$"
    )
    consular_retention_days: int = Field(30, ge=1, alias="JOL_CONSULAR_RETENTION_DAYS")
    outbox_interval_seconds: float = Field(2.0, gt=0, alias="JOL_OUTBOX_INTERVAL_SECONDS")

    @field_validator("telegram_api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.env == "production" and self.service_token == DEV_SERVICE_TOKEN:
            raise ValueError("JOL_SERVICE_TOKEN must be set to a secret in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL; the default is an SQLite file in the data directory."""
        return normalise_database_url(self.database_url or f"sqlite:///{self.data_dir / 'jol.db'}")


def http_url(value: str) -> str:
    """A URL setting must be http(s)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def normalise_database_url(url: str) -> str:
    """Pick the async driver for a plain URL (`sqlite:///`, `postgresql://`)."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgres://", "postgresql+psycopg://"),
        ("postgresql://", "postgresql+psycopg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def sync_database_url(url: str) -> str:
    """The same database for synchronous use (Alembic): psycopg serves both, aiosqlite does not."""
    url = normalise_database_url(url)
    return url.replace("sqlite+aiosqlite://", "sqlite://", 1)


def read_settings(model: type[SettingsT], **overrides: object) -> SettingsT:
    """Read a settings class (the app's or the bot's); raise ConfigError with one line naming
    the bad variable."""
    try:
        return model(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "configuration"
        info = model.model_fields.get(field)
        alias = info.alias if info is not None and info.alias else field
        raise ConfigError(f"invalid configuration: {alias}: {first['msg']}") from None


def load_settings(**overrides: object) -> Settings:
    """Read the app's settings (see `read_settings`)."""
    return read_settings(Settings, **overrides)


@lru_cache
def get_settings() -> Settings:
    return load_settings()
