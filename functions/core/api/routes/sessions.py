import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from functions.core.api.deps import AppSettings, CurrentUser, Db
from functions.core.api.openapi import problems
from functions.core.sessions import history, lifecycle
from functions.core.sessions.models import (
    ClientEvent,
    EndedSession,
    EndSession,
    KeptAlive,
    MessageOut,
    SessionOut,
    SessionPage,
    StartedSession,
    StartSession,
    Usage,
)

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.post("/sessions", status_code=201, responses=problems(429, 502, 503))
async def start_session(
    body: StartSession, user: CurrentUser, db: Db, settings: AppSettings
) -> StartedSession:
    return await lifecycle.start_session(db, user, body, settings)


@router.get("/sessions")
async def list_sessions(
    user: CurrentUser,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=60, pattern=history.CURSOR_PATTERN)] = None,
    avatar_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> SessionPage:
    return await history.list_sessions(db, user, limit, cursor, avatar_id=avatar_id, search=q)


@router.get("/sessions/{session_id}")
async def get_session(session_id: uuid.UUID, user: CurrentUser, db: Db) -> SessionOut:
    return await history.get_session(db, user, session_id)


@router.post("/sessions/{session_id}/end")
async def end_session(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: Db,
    settings: AppSettings,
    body: Annotated[EndSession | None, Body()] = None,
) -> EndedSession:
    reason = (body or EndSession()).reason
    return await lifecycle.end_session(db, user, session_id, reason, settings)


@router.post("/sessions/{session_id}/reconnect", responses=problems(409, 429, 502, 503))
async def reconnect_session(
    session_id: uuid.UUID, user: CurrentUser, db: Db, settings: AppSettings
) -> StartedSession:
    return await lifecycle.reconnect_session(db, user, session_id, settings)


@router.post("/sessions/{session_id}/keepalive", responses=problems(409, 502, 503))
async def keep_alive(session_id: uuid.UUID, user: CurrentUser, db: Db, settings: AppSettings) -> KeptAlive:
    return await lifecycle.keep_alive(db, user, session_id, settings)


@router.post("/sessions/{session_id}/events", status_code=202, responses=problems(409))
async def record_event(
    session_id: uuid.UUID, body: ClientEvent, user: CurrentUser, db: Db, settings: AppSettings
) -> dict[str, str]:
    await lifecycle.record_client_event(db, user, session_id, body, settings)
    return {"status": "recorded"}


@router.get("/sessions/{session_id}/messages")
async def list_messages(session_id: uuid.UUID, user: CurrentUser, db: Db) -> list[MessageOut]:
    return await history.list_messages(db, user, session_id)


@router.get("/usage")
async def usage(user: CurrentUser, db: Db, settings: AppSettings) -> Usage:
    return await history.usage(db, user, settings)
