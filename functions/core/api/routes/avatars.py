import uuid

from fastapi import APIRouter, Request, Response

from functions.core import avatars
from functions.core.api.cors import invalidate_avatar_origins
from functions.core.api.deps import Db, OwnerUser
from functions.core.api.openapi import problems

router = APIRouter(prefix="/v1/avatars", tags=["avatars"])


@router.post("", status_code=201)
async def create_avatar(
    body: avatars.AvatarCreate, user: OwnerUser, db: Db, request: Request
) -> avatars.AvatarOut:
    created = await avatars.create_avatar(db, user, body)
    invalidate_avatar_origins(request.app)
    return created


@router.get("")
async def list_avatars(user: OwnerUser, db: Db) -> list[avatars.AvatarOut]:
    return await avatars.list_avatars(db, user)


@router.get("/{avatar_id}")
async def get_avatar(avatar_id: uuid.UUID, user: OwnerUser, db: Db) -> avatars.AvatarOut:
    return await avatars.get_avatar(db, user, avatar_id)


@router.patch("/{avatar_id}")
async def update_avatar(
    avatar_id: uuid.UUID, body: avatars.AvatarPatch, user: OwnerUser, db: Db, request: Request
) -> avatars.AvatarOut:
    updated = await avatars.update_avatar(db, user, avatar_id, body)
    invalidate_avatar_origins(request.app)
    return updated


@router.delete("/{avatar_id}", status_code=204, responses=problems(409))
async def delete_avatar(avatar_id: uuid.UUID, user: OwnerUser, db: Db, request: Request) -> Response:
    await avatars.delete_avatar(db, user, avatar_id)
    invalidate_avatar_origins(request.app)
    return Response(status_code=204)
