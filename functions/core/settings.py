"""One settings class for every function, validated at cold start."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from functions.core.secrets import AwsSecretsSource

AvatarProviderName = Literal["local", "heygen", "liveavatar", "simli", "tavus"]
_PLACEHOLDERS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "your-secret",
    "your-super-secret-jwt-token",
    # The published defaults of the Supabase CLI and of self-hosted Supabase's .env.example.
    "super-secret-jwt-token-with-at-least-32-characters-long",
    "your-super-secret-jwt-token-with-at-least-32-characters-long",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    app_mode: Literal["local", "cloud"] = "local"
    log_level: str = "INFO"

    database_url: SecretStr | None = None
    data_dir: Path = Path(".data")
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    # Off behind a transaction-mode pooler that cannot keep server-side prepared statements.
    db_prepared_statements: bool = True

    supabase_url: str | None = None
    supabase_jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwt_audience: str = "authenticated"
    jwks_cache_seconds: int = Field(default=600, ge=0)

    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    session_idle_seconds: int = Field(default=300, ge=30)
    default_monthly_streaming_seconds: int = Field(default=36_000, ge=0)
    default_concurrent_sessions: int = Field(default=3, ge=0)

    ssm_parameter_path: str | None = None
    secrets_manager_secret_id: str | None = None

    @property
    def is_local(self) -> bool:
        return self.app_mode == "local"

    @property
    def resolved_jwks_url(self) -> str | None:
        if self.jwks_url:
            return self.jwks_url
        if self.supabase_url:
            return self.supabase_url.rstrip("/") + "/auth/v1/.well-known/jwks.json"
        return None

    def hs256_secret(self) -> str | None:
        if self.supabase_jwt_secret is not None:
            return self.supabase_jwt_secret.get_secret_value()
        return local_jwt_secret(self.data_dir) if self.is_local else None

    @model_validator(mode="after")
    def _cloud_mode_needs_real_credentials(self) -> "Settings":
        if self.is_local:
            return self
        if self.database_url is None:
            raise ValueError("DATABASE_URL is required when APP_MODE=cloud")
        secret = None if self.supabase_jwt_secret is None else self.supabase_jwt_secret.get_secret_value()
        if secret is None and self.resolved_jwks_url is None:
            raise ValueError("set SUPABASE_URL (for JWKS) or SUPABASE_JWT_SECRET when APP_MODE=cloud")
        if secret is not None and (secret.lower() in _PLACEHOLDERS or len(secret) < 32):
            raise ValueError("SUPABASE_JWT_SECRET is a placeholder or shorter than 32 characters")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, AwsSecretsSource(settings_cls), file_secret_settings)


def settings_env_names() -> frozenset[str]:
    """The environment variables that configure the product, e.g. to give a test a clean slate."""
    return frozenset(name.upper() for name in Settings.model_fields)


@lru_cache(maxsize=4)
def local_jwt_secret(data_dir: Path) -> str:
    """A random signing secret for local tokens, made once per data directory and kept there."""
    path = data_dir / "local-jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
