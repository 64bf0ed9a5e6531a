import uuid
from time import perf_counter
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from functions.core.api.body_limit import UPLOAD_ROUTE
from functions.core.api.deps import AppSettings, Clock, CurrentUser, Db
from functions.core.api.openapi import component, problems
from functions.core.turns.ahead import AheadTranscript, transcribe_ahead
from functions.core.turns.engine import collect, turn_engine
from functions.core.turns.interrupts import interrupt_turn
from functions.core.turns.models import (
    TURN_ID_PATTERN,
    Interrupt,
    Interrupted,
    TurnEvent,
    TurnRequest,
    TurnResult,
)
from functions.core.turns.request import read_recording, read_turn_request
from functions.core.turns.sse import SSE_HEADERS, sse_stream

router = APIRouter(prefix="/v1", tags=["turns"])

TurnId = Annotated[str, Path(min_length=1, max_length=100, pattern=TURN_ID_PATTERN)]
# A turn's JSON body; a multipart body has the same fields, with a recording in place of the text.
_TURN_REQUEST = TurnRequest.model_json_schema()


def server_timing(*, read_ms: float, stt_ms: float | None, prepare_ms: float) -> str:
    """The `Server-Timing` header of a turn's stream: reading the request (with an audio turn's upload
    and transcription), the transcription alone, and preparing the turn (stored question, retrieval)."""
    parts = [("read", read_ms), ("stt", stt_ms), ("prepare", prepare_ms)]
    return ", ".join(f"{name};dur={ms:.1f}" for name, ms in parts if ms is not None)


@router.post(
    "/sessions/{session_id}/turns",
    response_model=TurnResult,
    responses={
        200: {
            "description": "The turn as one object, or with `Accept: text/event-stream` as it happens:"
            " one server-sent event per `TurnEvent` (its `event` is the SSE event name, its `data` the"
            " event's data)",
            "content": {"text/event-stream": {"schema": component("TurnEvent", TurnEvent)}},
        },
        **problems(409, 415, 501, 502, 503),
    },
    openapi_extra={
        **UPLOAD_ROUTE,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _TURN_REQUEST},
                # A recording to transcribe (or, without one, the text itself).
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["turn_id"],
                        "properties": {
                            "turn_id": _TURN_REQUEST["properties"]["turn_id"],
                            "audio": {"type": "string", "format": "binary"},
                            "text": _TURN_REQUEST["properties"]["text"],
                        },
                        "additionalProperties": False,
                    }
                },
            },
        },
    },
)
async def take_turn(
    session_id: uuid.UUID, request: Request, user: CurrentUser, db: Db, settings: AppSettings
) -> Response:
    received = perf_counter()
    body = await read_turn_request(request)
    read = perf_counter()
    engine = turn_engine(db, settings)
    turn = await engine.start(user, session_id, body)
    stt_ms = turn.stt_ms or 0.0
    timing = server_timing(
        read_ms=1000 * (read - received) + stt_ms,
        stt_ms=turn.stt_ms,
        prepare_ms=1000 * (perf_counter() - read) - stt_ms,
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            sse_stream(engine.event_batches(turn)),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, "Server-Timing": timing},
        )
    result = await collect(turn, engine.events(turn))
    return JSONResponse(result.model_dump(mode="json"))


@router.post(
    "/sessions/{session_id}/turns/{turn_id}/transcription",
    responses=problems(409, 413, 415, 429, 501),
    openapi_extra={
        **UPLOAD_ROUTE,
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["audio"],
                        "properties": {"audio": {"type": "string", "format": "binary"}},
                        "additionalProperties": False,
                    }
                }
            },
        },
    },
)
async def transcription_ahead(
    session_id: uuid.UUID,
    turn_id: TurnId,
    request: Request,
    user: CurrentUser,
    db: Db,
    settings: AppSettings,
    clock: Clock,
) -> AheadTranscript:
    """Transcribe the recording of a spoken turn not sent yet, so that the turn, sent with the same
    recording and turn id, finds its question ready; stores nothing (see `functions/core/turns/ahead.py`)."""
    recording = await read_recording(request, turn_id)
    return await transcribe_ahead(db, settings, user, session_id, recording, clock())


@router.post("/sessions/{session_id}/turns/{turn_id}/interrupt", responses=problems(409))
async def interrupt(
    session_id: uuid.UUID, turn_id: TurnId, body: Interrupt, user: CurrentUser, db: Db
) -> Interrupted:
    return await interrupt_turn(db, user, session_id, turn_id, body.heard_text)
