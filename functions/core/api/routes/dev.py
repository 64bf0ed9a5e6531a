"""Local mode only: sign in as a local user by email, and take uploads as the cloud's bucket does.
Never included outside local mode."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from functions.core.api.deps import AppSettings, Db
from functions.core.api.openapi import problems
from functions.core.auth.local_users import ensure_local_user
from functions.core.auth.tokens import sign_local_token
from functions.core.knowledge.uploads import LocalUploadStorage, index_uploaded, upload_storage

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
    token = sign_local_token(secret, user_id, body.email.lower(), audience=settings.jwt_audience)
    return DevToken(access_token=token, user_id=user_id)


@router.post("/uploads", status_code=204, responses=problems(403))
async def local_upload(
    key: Annotated[str, Form(max_length=200)],
    policy: Annotated[str, Form(max_length=2000)],
    signature: Annotated[str, Form(max_length=200)],
    file: UploadFile,
    db: Db,
    settings: AppSettings,
    background: BackgroundTasks,
) -> Response:
    """The local stand-in for the uploads bucket: a signed form, then indexing as on an S3 event."""
    storage = upload_storage(settings, "")
    assert isinstance(storage, LocalUploadStorage)
    data = await file.read()
    storage.accept(key, policy, signature, len(data))
    await storage.write(key, data)
    background.add_task(index_uploaded, db, storage, key, settings)
    return Response(status_code=204)
