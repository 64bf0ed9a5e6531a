import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response, UploadFile

from functions.core.api.body_limit import UPLOAD_ROUTE
from functions.core.api.deps import AppSettings, Db, OwnerUser
from functions.core.api.openapi import problems
from functions.core.knowledge import documents
from functions.core.knowledge.extract import inspect_upload
from functions.core.knowledge.uploads import UploadRequest, UploadTicket, create_ticket, upload_storage

# Where local mode takes the upload form that a storage bucket takes in the cloud.
LOCAL_UPLOAD_PATH = "/v1/dev/uploads"

router = APIRouter(prefix="/v1", tags=["knowledge"])


@router.post(
    "/avatars/{avatar_id}/knowledge", status_code=202, openapi_extra=UPLOAD_ROUTE, responses=problems(415)
)
async def upload_document(
    avatar_id: uuid.UUID,
    file: UploadFile,
    user: OwnerUser,
    db: Db,
    settings: AppSettings,
    background: BackgroundTasks,
    title: Annotated[str | None, Form(max_length=300, pattern=r"^[^\x00]*$")] = None,
) -> documents.Uploaded:
    """Accept a file at once (202) and index it in the background; poll the document for progress."""
    from functions.core.knowledge.indexing import run_indexing

    upload = inspect_upload(
        file.filename, file.content_type, await file.read(), title=title, max_bytes=settings.max_upload_bytes
    )
    accepted = await documents.add_document(db, user, avatar_id, upload)
    if accepted.needs_indexing:
        background.add_task(run_indexing, db, user, accepted.uploaded.document_id, upload, settings)
    return accepted.uploaded


@router.post("/avatars/{avatar_id}/knowledge/uploads", status_code=201, responses=problems(415))
async def start_upload(
    avatar_id: uuid.UUID,
    body: UploadRequest,
    request: Request,
    user: OwnerUser,
    db: Db,
    settings: AppSettings,
) -> UploadTicket:
    """Record a queued document and sign the form that sends its file straight to storage, where its
    arrival starts the indexing; poll the document for progress as after a direct upload."""
    storage = upload_storage(settings, str(request.base_url).rstrip("/") + LOCAL_UPLOAD_PATH)
    return await create_ticket(db, user, avatar_id, body, storage, settings)


@router.get("/avatars/{avatar_id}/knowledge")
async def list_documents(avatar_id: uuid.UUID, user: OwnerUser, db: Db) -> list[documents.DocumentOut]:
    return await documents.list_documents(db, user, avatar_id)


@router.get("/knowledge/{document_id}")
async def get_document(document_id: uuid.UUID, user: OwnerUser, db: Db) -> documents.DocumentOut:
    return await documents.get_document(db, user, document_id)


@router.delete("/knowledge/{document_id}", status_code=204)
async def delete_document(document_id: uuid.UUID, user: OwnerUser, db: Db) -> Response:
    await documents.delete_document(db, user, document_id)
    return Response(status_code=204)
