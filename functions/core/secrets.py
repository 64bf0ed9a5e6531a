"""Secrets from AWS SSM Parameter Store and Secrets Manager, read once per container.

Environment variables win; these sources only fill what the environment leaves unset. The
boto3 clients are created on first use, never at import time.
"""

import json
import os
from functools import lru_cache
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource


def _ssm_values(path: str) -> dict[str, str]:
    import boto3

    client = boto3.client("ssm")
    prefix = path if path.endswith("/") else path + "/"
    values: dict[str, str] = {}
    for page in client.get_paginator("get_parameters_by_path").paginate(
        Path=prefix, Recursive=False, WithDecryption=True
    ):
        for parameter in page["Parameters"]:
            values[parameter["Name"].removeprefix(prefix).lower()] = parameter["Value"]
    return values


def _secrets_manager_values(secret_id: str) -> dict[str, str]:
    import boto3

    client = boto3.client("secretsmanager")
    payload = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    if not isinstance(payload, dict):
        raise ValueError(f"secret {secret_id} must hold a JSON object")
    return {
        str(key).lower(): value if isinstance(value, str) else json.dumps(value)
        for key, value in payload.items()
    }


@lru_cache(maxsize=8)
def load_aws_secrets(ssm_path: str | None, secret_id: str | None) -> dict[str, str]:
    """Merged secrets for a container; Secrets Manager wins over SSM on the same name."""
    values: dict[str, str] = {}
    if ssm_path:
        values.update(_ssm_values(ssm_path))
    if secret_id:
        values.update(_secrets_manager_values(secret_id))
    return values


class AwsSecretsSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values().get(field_name), field_name, False

    def _values(self) -> dict[str, str]:
        return load_aws_secrets(
            os.environ.get("SSM_PARAMETER_PATH") or None,
            os.environ.get("SECRETS_MANAGER_SECRET_ID") or None,
        )

    def __call__(self) -> dict[str, Any]:
        values = self._values()
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if name in values:
                value: Any = values[name]
                if self.field_is_complex(field):
                    value = self.decode_complex_value(name, field, value)
                found[name] = value
        return found
