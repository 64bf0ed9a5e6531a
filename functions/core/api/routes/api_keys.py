import uuid

from fastapi import APIRouter, Response

from functions.core import api_key_management as keys
from functions.core.api.deps import Db, OwnerUser

router = APIRouter(prefix="/v1", tags=["api keys"])


@router.post("/avatars/{avatar_id}/api-keys", status_code=201)
async def create_api_key(
    avatar_id: uuid.UUID, body: keys.ApiKeyCreate, user: OwnerUser, db: Db
) -> keys.ApiKeyCreated:
    return await keys.create_api_key(db, user, avatar_id, body)


@router.get("/avatars/{avatar_id}/api-keys")
async def list_api_keys(avatar_id: uuid.UUID, user: OwnerUser, db: Db) -> list[keys.ApiKeyOut]:
    return await keys.list_api_keys(db, user, avatar_id)


@router.delete("/avatars/{avatar_id}/api-keys/{key_id}", status_code=204)
async def revoke_api_key(avatar_id: uuid.UUID, key_id: uuid.UUID, user: OwnerUser, db: Db) -> Response:
    await keys.revoke_api_key(db, user, avatar_id, key_id)
    return Response(status_code=204)
