"""Local mode only: sign in as a local user by email. Never included outside local mode."""

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from functions.core.api.deps import AppSettings, Db
from functions.core.auth.local_users import ensure_local_user
from functions.core.auth.tokens import sign_local_token

router = APIRouter(prefix="/v1/dev", tags=["local development"])


class DevLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s\x85\ufeff]+@[^@\s\x85\ufeff]+$")


class DevToken(BaseModel):
    access_token: str
    user_id: uuid.UUID
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)


@router.post("/login")
async def dev_login(body: DevLogin, db: Db, settings: AppSettings) -> DevToken:
    user_id = await ensure_local_user(db, body.email.lower())
    secret = settings.hs256_secret()
    assert secret is not None
    return DevToken(access_token=sign_local_token(secret, user_id, body.email.lower()), user_id=user_id)
