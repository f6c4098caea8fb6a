"""Every setting of SPEC §8, read once from the environment (and `.env`).

A bad value stops start-up with a message naming the variable (`PORT: Input should be a valid
integer`), and production refuses to start without API keys. Nothing else in the code reads
`os.environ` (house rule 7).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024
_RATE = re.compile(r"^\d+(\.\d+)?(/\d+)?$")


class SettingsError(RuntimeError):
    """Start-up configuration that cannot work; the message names each bad variable."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_db_name: str = Field("ai_spark_db", min_length=1, max_length=63)
    fabric_mongodb_url: str | None = None
    fabric_catalog_db: str = Field("ApiDNA", min_length=1, max_length=63)
    fabric_api_url: str | None = None
    fabric_api_key: SecretStr | None = None
    fabric_api_timeout: float = Field(30.0, gt=0, le=600)
    fabric_import_batch_size: int = Field(500, ge=1, le=10_000)
    fabric_max_retries: int = Field(5, ge=0, le=20)

    export_base_path: Path = Path("exports")
    import_base_path: Path = Path("imports")
    media_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    default_frame_rate: str = "25"

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Keys that may read (GET, HEAD) but change nothing: a 403 on every other method.
    api_read_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)

    # 0 runs no job of that kind in this process: an API-only replica, with workers elsewhere.
    export_concurrency: int = Field(2, ge=0, le=64)
    import_concurrency: int = Field(4, ge=0, le=64)
    lease_seconds: float = Field(60.0, ge=1, le=3600)
    max_attempts: int = Field(3, ge=1, le=100)
    job_timeout_seconds: float = Field(1800.0, ge=1, le=7 * 24 * 3600)
    shutdown_grace_seconds: float = Field(20.0, ge=0, le=3600)
    max_request_bytes: int = Field(10 * MiB, ge=1024, le=1024 * MiB)
    # ffmpeg processes at once per service process (proxies, subclips).
    media_concurrency: int = Field(1, ge=1, le=32)

    # Scheduling (issue 15B): Fabric's push rate across all replicas, and the retention sweep.
    fabric_max_requests_per_second: float = Field(0.0, ge=0, le=1000)  # 0: no limit
    retention_days: int = Field(30, ge=0, le=36_500)  # 0: retention off, every job kept
    failed_retention_days: int = Field(90, ge=0, le=36_500)  # 0: failed jobs kept forever
    retention_interval_seconds: float = Field(3600.0, ge=1, le=7 * 24 * 3600)
    retention_batch_size: int = Field(100, ge=1, le=10_000)
    # Scheduling (issue 15): a waiting job rises one priority level per aging period; 0 = no cap.
    priority_aging_seconds: float = Field(600.0, gt=0, le=30 * 24 * 3600)
    repo_export_concurrency: int = Field(0, ge=0, le=10_000)
    repo_import_concurrency: int = Field(0, ge=0, le=10_000)

    @field_validator("media_roots", "api_keys", "api_read_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("default_frame_rate")
    @classmethod
    def _rate_syntax(cls, value: str) -> str:
        if not _RATE.match(value.strip()) or value.strip().startswith("0"):
            raise ValueError("expected a frame rate such as 25, 29.97 or 24000/1001")
        return value.strip()

    @field_validator("mongodb_url", "fabric_mongodb_url")
    @classmethod
    def _mongodb_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("expected a mongodb:// or mongodb+srv:// URL")
        return value

    @field_validator("fabric_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production" and not self.api_keys:
            raise ValueError("API_KEYS must be set when ENVIRONMENT=production")
        return self

    @property
    def catalog_mongodb_url(self) -> str:
        return self.fabric_mongodb_url or self.mongodb_url

    @property
    def media_features_enabled(self) -> bool:
        return bool(self.media_roots)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, or a `SettingsError` naming every bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_settings_errors(error)) from None


def describe_settings_errors(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        variable = "_".join(str(part) for part in problem["loc"]).upper() or "settings"
        # The value is left out on purpose: it may be a secret.
        lines.append(f"{variable}: {problem['msg']}")
    return "invalid settings: " + "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
