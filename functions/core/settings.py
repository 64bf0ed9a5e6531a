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

# The issuer of the tokens that local mode's dev sign-in signs.
LOCAL_ISSUER = "avatar-studio-local"
# No visitor token outlives this, so the sweeper may remove a visitor not seen for as long.
WIDGET_TOKEN_MAX_TTL_SECONDS = 86_400


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    app_mode: Literal["local", "cloud"] = "local"
    log_level: str = "INFO"

    database_url: SecretStr | None = None
    data_dir: Path = Path(".data")
    db_pool_min: int = Field(default=1, ge=0)
    # Connections per process. Unset: 1 in the cloud, where each Lambda container serves one request at
    # a time and Supabase advises one connection per serverless instance; 10 for the local server.
    db_pool_max: int | None = Field(default=None, ge=1)
    # Server-side prepared statements. Unset: off in the cloud, where DATABASE_URL is Supabase's
    # transaction-mode pooler (port 6543), which hands each transaction any server connection and so
    # cannot keep them; on locally. Set true for a direct or session-mode connection.
    db_prepared_statements: bool | None = None

    supabase_url: str | None = None
    # Public by design (it only identifies the project); the studio's Supabase sign-in needs it.
    supabase_anon_key: str | None = None
    supabase_jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwt_audience: str = "authenticated"
    # The `iss` that user access tokens must carry; unset, Supabase's `<SUPABASE_URL>/auth/v1`.
    jwt_issuer: str | None = None
    jwks_cache_seconds: int = Field(default=600, ge=0)

    cors_origins: list[str] = Field(default=[])
    # The proxies in front of `avatar-studio dev` whose X-Forwarded-For is believed (uvicorn's
    # comma-separated FORWARDED_ALLOW_IPS). None by default: a client cannot choose its own address.
    # On Lambda the address is API Gateway's requestContext sourceIp, whatever the headers say.
    forwarded_allow_ips: str | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    session_idle_seconds: int = Field(default=300, ge=30)
    default_monthly_streaming_seconds: int = Field(default=36_000, ge=0)
    default_concurrent_sessions: int = Field(default=3, ge=0)
    # Widget visitors: live sessions one visitor may hold, and how many of the owner's concurrent
    # sessions visitors can never take (so the owner can always start one of their own).
    visitor_concurrent_sessions: int = Field(default=1, ge=1)
    owner_reserved_sessions: int = Field(default=1, ge=0)

    ssm_parameter_path: str | None = None
    secrets_manager_secret_id: str | None = None

    # Where the functions are reachable from outside, e.g. for a provider's custom-LLM callback.
    public_api_base: str | None = None

    # The private bucket browsers upload knowledge files to (presigned POST); its events index them.
    # Unset locally: files go to DATA_DIR through the local server's /v1/uploads.
    knowledge_bucket: str | None = None
    # Uploads (knowledge files, audio turns) may be larger than a JSON body.
    max_upload_bytes: int = Field(default=20_971_520, ge=1024)

    openai_api_key: SecretStr | None = None
    openai_api_base: str = "https://api.openai.com/v1"
    # Any OpenAI-compatible chat server; each falls back to the OpenAI setting above.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_max_tokens: int = Field(default=400, ge=16, le=8192)
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    llm_timeout_seconds: float = Field(default=30, gt=0)
    turn_history_messages: int = Field(default=8, ge=0, le=100)
    turn_sources: int = Field(default=4, ge=1, le=20)
    embedding_model: str = "text-embedding-3-small"
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    stt_model: str = "gpt-4o-mini-transcribe"
    # Without a key, audio turns are transcribed on the machine when the `local` extra is installed.
    local_stt: bool = True

    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_api_base: str = "https://api.elevenlabs.io"
    elevenlabs_model: str = "eleven_flash_v2_5"
    # Speech requests per session per minute: clients ask for one sentence at a time.
    tts_requests_per_session_per_minute: int = Field(default=60, ge=1)

    heygen_api_key: SecretStr | None = None
    heygen_api_base: str = "https://api.heygen.com"
    liveavatar_api_key: SecretStr | None = None
    liveavatar_api_base: str = "https://api.liveavatar.com"
    simli_api_key: SecretStr | None = None
    simli_api_base: str = "https://api.simli.ai"
    tavus_api_key: SecretStr | None = None
    tavus_api_base: str = "https://tavusapi.com"
    provider_timeout_seconds: float = Field(default=15, gt=0)

    # Visitor tokens of the embeddable widget: signed with their own key, short-lived, rate limited.
    widget_token_secret: SecretStr | None = None
    widget_token_ttl_seconds: int = Field(default=900, ge=60, le=WIDGET_TOKEN_MAX_TTL_SECONDS)
    widget_tokens_per_ip_per_minute: int = Field(default=10, ge=1)
    widget_tokens_per_avatar_per_minute: int = Field(default=120, ge=1)

    # Owners' tools: hosts, IPs or networks (CIDR) a tool may reach although they are not public, for tests
    # and private deployments; and the largest tool answer read.
    tool_allowed_hosts: list[str] = Field(default=[])
    tool_response_max_bytes: int = Field(default=65_536, ge=1024, le=4_194_304)
    # Contact details one session may leave per minute (the widget's form, or its capture_contact tool).
    contacts_per_session_per_minute: int = Field(default=5, ge=1)

    @property
    def is_local(self) -> bool:
        return self.app_mode == "local"

    @property
    def pool_max_size(self) -> int:
        if self.db_pool_max is not None:
            return self.db_pool_max
        return 10 if self.is_local else 1

    @property
    def prepare_statements(self) -> bool:
        return self.is_local if self.db_prepared_statements is None else self.db_prepared_statements

    @property
    def resolved_jwks_url(self) -> str | None:
        if self.jwks_url:
            return self.jwks_url
        if self.supabase_url:
            return self.supabase_url.rstrip("/") + "/auth/v1/.well-known/jwks.json"
        return None

    @property
    def resolved_jwt_issuer(self) -> str | None:
        """The issuer of user tokens: JWT_ISSUER, else Supabase Auth's, else (locally) our dev sign-in's."""
        if self.jwt_issuer:
            return self.jwt_issuer
        if self.supabase_url:
            return self.supabase_url.rstrip("/") + "/auth/v1"
        return LOCAL_ISSUER if self.is_local else None

    @property
    def llm_url(self) -> str:
        return (self.llm_base_url or self.openai_api_base).rstrip("/")

    def llm_key(self) -> str | None:
        key = self.llm_api_key or self.openai_api_key
        return None if key is None else key.get_secret_value()

    @property
    def llm_configured(self) -> bool:
        """A chat model is reachable: a key, or a keyless OpenAI-compatible server (Ollama, llama.cpp)."""
        return self.llm_key() is not None or self.llm_base_url is not None

    def openai_key(self) -> str | None:
        return None if self.openai_api_key is None else self.openai_api_key.get_secret_value()

    def hs256_secret(self) -> str | None:
        if self.supabase_jwt_secret is not None:
            return self.supabase_jwt_secret.get_secret_value()
        return local_secret(self.data_dir, "local-jwt-secret") if self.is_local else None

    def widget_secret(self) -> str | None:
        """The key that signs visitor tokens: configured, or a random local one; never the user JWT key."""
        if self.widget_token_secret is not None:
            return self.widget_token_secret.get_secret_value()
        return local_secret(self.data_dir, "local-widget-secret") if self.is_local else None

    @model_validator(mode="after")
    def _pool_bounds(self) -> "Settings":
        if self.db_pool_min > self.pool_max_size:
            raise ValueError(f"DB_POOL_MIN ({self.db_pool_min}) is above DB_POOL_MAX ({self.pool_max_size})")
        return self

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


@lru_cache(maxsize=8)
def local_secret(data_dir: Path, name: str) -> str:
    """A random signing secret for local mode, made once per data directory and kept there."""
    path = data_dir / name
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
