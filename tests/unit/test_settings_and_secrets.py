"""Settings from the environment, SSM Parameter Store and Secrets Manager (moto), and their validation."""

import json
from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from functions.core import secrets
from functions.core.errors import AppError, ProviderError
from functions.core.settings import Settings

SSM_PATH = "/avatar-studio/test"
SECRET_ID = "avatar-studio/test/app"
SSM_JWT_SECRET = "ssm-" + "s" * 44
SM_JWT_SECRET = "sm-" + "m" * 45
SSM_DATABASE_URL = "postgresql://app:pw@ssm-host:5432/postgres"

# Every variable a setting could be read from, so the environment of the run cannot leak in.
SETTING_VARIABLES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    secrets.load_aws_secrets.cache_clear()
    yield
    secrets.load_aws_secrets.cache_clear()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def put_ssm(name: str, value: str, kind: Literal["SecureString", "String"] = "SecureString") -> None:
    boto3.client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)


@pytest.fixture
def ssm(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """SecureString parameters under SSM_PATH, as serverless.yml documents them, plus some noise."""
    put_ssm(f"{SSM_PATH}/database_url", SSM_DATABASE_URL)
    put_ssm(f"{SSM_PATH}/supabase_jwt_secret", SSM_JWT_SECRET)
    put_ssm(f"{SSM_PATH}/LOG_LEVEL", "DEBUG", kind="String")
    put_ssm(f"{SSM_PATH}/cors_origins", '["https://app.example.com"]', kind="String")
    for index in range(12):  # more than one page of GetParametersByPath
        put_ssm(f"{SSM_PATH}/unrelated_{index:02d}", f"value-{index}", kind="String")
    put_ssm(f"{SSM_PATH}/nested/db_pool_max", "99", kind="String")  # not read: the path is not recursive
    put_ssm(f"{SSM_PATH}-other/db_pool_min", "7", kind="String")  # a sibling path with the same prefix
    monkeypatch.setenv("SSM_PARAMETER_PATH", SSM_PATH + "/")
    monkeypatch.setenv("APP_MODE", "cloud")


def put_secret(payload: Any) -> None:
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps(payload))


# --- SSM Parameter Store and Secrets Manager ------------------------------------------------------


def test_settings_read_secure_string_parameters_under_the_ssm_path(ssm: None) -> None:
    settings = Settings()
    assert settings.app_mode == "cloud"
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == SSM_DATABASE_URL
    assert settings.hs256_secret() == SSM_JWT_SECRET
    assert settings.log_level == "DEBUG"
    assert settings.cors_origins == ["https://app.example.com"]
    assert settings.pool_max_size == 1
    assert settings.db_pool_min == 1


def test_the_ssm_path_may_be_given_without_its_trailing_slash(
    ssm: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSM_PARAMETER_PATH", SSM_PATH)
    assert Settings().hs256_secret() == SSM_JWT_SECRET


def test_secrets_do_not_leak_into_the_settings_repr(ssm: None) -> None:
    shown = repr(Settings())
    assert SSM_JWT_SECRET not in shown
    assert "ssm-host" not in shown


def test_environment_variables_win_over_ssm(ssm: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@env-host:5432/postgres")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://app:pw@env-host:5432/postgres"
    assert settings.log_level == "WARNING"
    assert settings.hs256_secret() == SSM_JWT_SECRET


def test_secrets_manager_wins_over_ssm(ssm: None, monkeypatch: pytest.MonkeyPatch) -> None:
    put_secret({"supabase_jwt_secret": SM_JWT_SECRET, "JWT_AUDIENCE": "avatar-studio"})
    monkeypatch.setenv("SECRETS_MANAGER_SECRET_ID", SECRET_ID)
    settings = Settings()
    assert settings.hs256_secret() == SM_JWT_SECRET
    assert settings.jwt_audience == "avatar-studio"
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == SSM_DATABASE_URL


def test_secrets_manager_alone_can_supply_every_secret(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    put_secret(
        {
            "database_url": "postgresql://app:pw@sm-host:5432/postgres",
            "supabase_jwt_secret": SM_JWT_SECRET,
            "db_pool_max": 4,
            "session_idle_seconds": "120",
        }
    )
    monkeypatch.setenv("SECRETS_MANAGER_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("APP_MODE", "cloud")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://app:pw@sm-host:5432/postgres"
    assert settings.hs256_secret() == SM_JWT_SECRET
    assert settings.db_pool_max == 4
    assert settings.session_idle_seconds == 120


def test_a_list_in_the_secrets_manager_json_is_read_as_a_list(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_secret({"cors_origins": ["https://app.example.com", "https://admin.example.com"]})
    monkeypatch.setenv("SECRETS_MANAGER_SECRET_ID", SECRET_ID)
    assert Settings().cors_origins == ["https://app.example.com", "https://admin.example.com"]


def test_a_secrets_manager_secret_that_is_not_a_json_object_is_refused(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_secret(["not", "an", "object"])
    monkeypatch.setenv("SECRETS_MANAGER_SECRET_ID", SECRET_ID)
    with pytest.raises(ValueError, match="must hold a JSON object"):
        Settings()


def test_aws_secrets_are_loaded_once_per_container(ssm: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = secrets._ssm_values

    def counting(path: str) -> dict[str, str]:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(secrets, "_ssm_values", counting)
    first = Settings()
    boto3.client("ssm").delete_parameter(Name=f"{SSM_PATH}/supabase_jwt_secret")
    for _ in range(3):
        assert Settings().hs256_secret() == first.hs256_secret() == SSM_JWT_SECRET
    assert calls == [SSM_PATH + "/"]

    # A new container (an empty cache) reads the parameters again and sees the deletion.
    secrets.load_aws_secrets.cache_clear()
    with pytest.raises(ValidationError, match="SUPABASE_JWT_SECRET"):
        Settings()
    assert len(calls) == 2


def test_no_aws_client_is_made_when_no_aws_source_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("boto3 was used")

    monkeypatch.setattr(boto3, "client", refuse)
    settings = Settings(app_mode="cloud", database_url="postgresql://x", supabase_jwt_secret="k" * 40)
    assert settings.hs256_secret() == "k" * 40
    assert secrets.load_aws_secrets(None, None) == {}


# --- cloud mode validation ----------------------------------------------------------------------------


def cloud(**fields: Any) -> Settings:
    values: dict[str, Any] = {"app_mode": "cloud", "database_url": "postgresql://x"}
    values.update(fields)
    return Settings(**{key: value for key, value in values.items() if value is not None})


def test_cloud_mode_accepts_a_real_jwt_secret() -> None:
    assert cloud(supabase_jwt_secret="k" * 32).hs256_secret() == "k" * 32


@pytest.mark.parametrize(
    "secret",
    [
        "changeme",
        "CHANGEME",
        "change-me",
        "secret",
        "your-super-secret-jwt-token",
        "super-secret-jwt-token-with-at-least-32-characters-long",
        "your-super-secret-jwt-token-with-at-least-32-characters-long",
    ],
)
def test_cloud_mode_refuses_a_placeholder_jwt_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        cloud(supabase_jwt_secret=secret)


def test_cloud_mode_refuses_an_empty_jwt_secret_when_it_is_the_only_way_to_verify_tokens() -> None:
    with pytest.raises(ValidationError):
        cloud(supabase_jwt_secret="")


def test_cloud_mode_refuses_a_jwt_secret_shorter_than_32_characters() -> None:
    with pytest.raises(ValidationError, match="shorter than 32"):
        cloud(supabase_jwt_secret="k" * 31)


def test_cloud_mode_refuses_a_missing_database_url() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL is required"):
        cloud(database_url=None, supabase_jwt_secret="k" * 40)


def test_cloud_mode_refuses_to_run_without_any_way_to_verify_tokens() -> None:
    with pytest.raises(ValidationError, match="SUPABASE_URL"):
        cloud()


def test_cloud_mode_refuses_a_placeholder_secret_read_from_ssm(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_ssm(f"{SSM_PATH}/database_url", SSM_DATABASE_URL)
    put_ssm(f"{SSM_PATH}/supabase_jwt_secret", "changeme")
    monkeypatch.setenv("SSM_PARAMETER_PATH", SSM_PATH)
    monkeypatch.setenv("APP_MODE", "cloud")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()


def test_cloud_mode_with_a_supabase_url_verifies_through_its_jwks() -> None:
    settings = cloud(supabase_url="https://project-ref.supabase.co/")
    assert settings.resolved_jwks_url == "https://project-ref.supabase.co/auth/v1/.well-known/jwks.json"
    assert settings.hs256_secret() is None
    assert cloud(jwks_url="https://keys.example.com/jwks.json").resolved_jwks_url == (
        "https://keys.example.com/jwks.json"
    )


def test_local_mode_needs_no_credentials(tmp_path: Any) -> None:
    settings = Settings(app_mode="local", data_dir=tmp_path)
    assert settings.database_url is None
    secret = settings.hs256_secret()
    assert secret is not None
    assert len(secret) >= 32
    assert Settings(app_mode="local", data_dir=tmp_path).hs256_secret() == secret


def test_settings_are_frozen() -> None:
    settings = cloud(supabase_jwt_secret="k" * 40)
    with pytest.raises(ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]


# --- provider errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider_status", "status", "code"),
    [
        (429, 429, "provider_busy"),
        (500, 502, "provider_unavailable"),
        (503, 502, "provider_unavailable"),
        (None, 503, "provider_unavailable"),
        (400, 502, "provider_error"),
        (401, 502, "provider_error"),
        (404, 502, "provider_error"),
    ],
)
def test_a_provider_error_maps_the_providers_status_to_ours(
    provider_status: int | None, status: int, code: str
) -> None:
    error = ProviderError("heygen", "it broke", status=provider_status, body={"raw": "secret detail"})
    assert isinstance(error, AppError)
    assert error.status == status
    assert error.code == code
    assert error.provider_status == provider_status
    assert error.problem() == {
        "status": status,
        "code": code,
        "detail": "heygen: it broke",
        "provider": "heygen",
    }
    assert "secret detail" not in json.dumps(error.problem())


def test_provider_errors_do_not_change_the_class_defaults() -> None:
    ProviderError("heygen", "busy", status=429)
    assert ProviderError.status == AppError.status == 400
    assert ProviderError.code == "provider_error"


# --- database access fit for Lambda -------------------------------------------------------------


def _cloud(**values: Any) -> Settings:
    return Settings(
        app_mode="cloud",
        database_url="postgresql://app:pw@pooler:6543/postgres",
        **values,
        jwks_url="https://x",
    )


def test_the_cloud_holds_one_connection_per_container_without_prepared_statements() -> None:
    settings = _cloud()
    assert (settings.pool_max_size, settings.prepare_statements) == (1, False)


def test_local_mode_keeps_a_larger_pool_and_prepared_statements() -> None:
    settings = Settings(app_mode="local")
    assert (settings.pool_max_size, settings.prepare_statements) == (10, True)


def test_explicit_pool_and_prepared_statement_settings_win() -> None:
    settings = _cloud(db_pool_max=3, db_prepared_statements=True)
    assert (settings.pool_max_size, settings.prepare_statements) == (3, True)


def test_a_pool_minimum_above_its_maximum_is_refused() -> None:
    with pytest.raises(ValidationError, match="DB_POOL_MIN"):
        _cloud(db_pool_min=2)
