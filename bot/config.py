"""BotSettings: the Telegram adapter's own settings (the same variable names as the backend's)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.config import DEV_SERVICE_TOKEN, http_url, read_settings


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    token: str = Field(alias="TELEGRAM_BOT_TOKEN", min_length=3)
    api_base_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL")
    backend_url: str = Field("http://127.0.0.1:8000", alias="JOL_BACKEND_URL")
    service_token: str = Field(DEV_SERVICE_TOKEN, alias="JOL_SERVICE_TOKEN")
    webhook_secret: str | None = Field(
        None, alias="TELEGRAM_WEBHOOK_SECRET", pattern=r"^[A-Za-z0-9_-]{1,256}$"
    )
    webhook_host: str = Field("127.0.0.1", alias="JOL_BOT_HOST")
    webhook_port: int = Field(8088, ge=1, le=65535, alias="JOL_BOT_PORT")
    backend_timeout: float = Field(10.0, gt=0, alias="JOL_BACKEND_TIMEOUT")
    # A user who sends more than this many messages a minute is asked to slow down.
    flood_limit: int = Field(20, ge=1, alias="JOL_BOT_FLOOD_LIMIT")
    default_language: str = Field("ky", alias="JOL_DEFAULT_LANGUAGE")
    # Messages a second the bot sends at most, all chats together (Telegram asks bots to stay
    # near 30/s). 0: no limit of its own; a 429 from Telegram is waited out either way.
    max_rate: float = Field(30.0, ge=0, alias="JOL_BOT_MAX_RATE")
    # Connections to the Bot API server. A call takes about one round trip to Telegram, so 8
    # carry some 160 calls a second at 50 ms, five times the 30 messages/s above.
    connections: int = Field(8, ge=1, le=256, alias="JOL_BOT_CONNECTIONS")

    @field_validator("api_base_url", "backend_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)


def load_bot_settings(**overrides: object) -> BotSettings:
    """Read the bot's settings (see `app.config.read_settings`)."""
    return read_settings(BotSettings, **overrides)
