import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from functions.core.api.deps import AppSettings, Clock, CurrentUser, Db, OwnerUser
from functions.core.api.openapi import problems
from functions.core.tools import contacts, definitions

router = APIRouter(prefix="/v1", tags=["tools"])


@router.post("/avatars/{avatar_id}/tools", status_code=201, responses=problems(409))
async def create_tool(
    avatar_id: uuid.UUID, body: definitions.ToolCreate, user: OwnerUser, db: Db
) -> definitions.ToolCreated:
    return await definitions.create_tool(db, user, avatar_id, body)


@router.get("/avatars/{avatar_id}/tools")
async def list_tools(avatar_id: uuid.UUID, user: OwnerUser, db: Db) -> list[definitions.ToolOut]:
    return await definitions.list_tools(db, user, avatar_id)


@router.get("/avatars/{avatar_id}/tools/{tool_id}")
async def get_tool(avatar_id: uuid.UUID, tool_id: uuid.UUID, user: OwnerUser, db: Db) -> definitions.ToolOut:
    return await definitions.get_tool(db, user, avatar_id, tool_id)


@router.patch("/avatars/{avatar_id}/tools/{tool_id}", responses=problems(409))
async def update_tool(
    avatar_id: uuid.UUID, tool_id: uuid.UUID, body: definitions.ToolPatch, user: OwnerUser, db: Db
) -> definitions.ToolOut:
    return await definitions.update_tool(db, user, avatar_id, tool_id, body)


@router.delete("/avatars/{avatar_id}/tools/{tool_id}", status_code=204)
async def delete_tool(avatar_id: uuid.UUID, tool_id: uuid.UUID, user: OwnerUser, db: Db) -> Response:
    await definitions.delete_tool(db, user, avatar_id, tool_id)
    return Response(status_code=204)


@router.post("/avatars/{avatar_id}/tools/{tool_id}/test", responses=problems(409))
async def test_tool(
    avatar_id: uuid.UUID,
    tool_id: uuid.UUID,
    body: definitions.ToolTest,
    user: OwnerUser,
    db: Db,
    settings: AppSettings,
) -> definitions.ToolTestResult:
    # Here, not at import: only this route of the function makes a tool's request (the snapshot holds it).
    from functions.core.tools import runtime

    return await runtime.try_tool(db, user, avatar_id, tool_id, body, settings)


@router.post("/sessions/{session_id}/contact", status_code=201, responses=problems(409, 429))
async def leave_contact(
    session_id: uuid.UUID,
    body: contacts.ContactIn,
    user: CurrentUser,
    db: Db,
    settings: AppSettings,
    clock: Clock,
) -> contacts.ContactSaved:
    return await contacts.leave_contact(db, user, session_id, body, settings, clock())


@router.get("/contacts")
async def list_contacts(
    user: OwnerUser,
    db: Db,
    avatar_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[contacts.ContactOut]:
    return await contacts.list_contacts(db, user, avatar_id, limit)


@router.get("/contacts.csv", response_class=StreamingResponse)
async def export_contacts(user: OwnerUser, db: Db, avatar_id: uuid.UUID | None = None) -> StreamingResponse:
    return StreamingResponse(
        contacts.export_csv(db, user, avatar_id),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="contacts.csv"'},
    )


@router.delete("/contacts/{contact_id}", status_code=204)
async def delete_contact(contact_id: uuid.UUID, user: OwnerUser, db: Db) -> Response:
    await contacts.delete_contact(db, user, contact_id)
    return Response(status_code=204)
