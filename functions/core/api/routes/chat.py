import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, StreamingResponse

from functions.core.api.deps import ApiKeyUser, AppSettings, Db, SessionCaller
from functions.core.api.openapi import problems
from functions.core.auth.tokens import Principal
from functions.core.turns.chat_completions import (
    ChatCompletionRequest,
    completion,
    completion_chunks,
    greeting_chunks,
    greeting_completion,
    is_opening,
    session_for,
    session_greeting,
    turn_of,
)
from functions.core.turns.engine import turn_engine
from functions.core.turns.sse import SSE_HEADERS

router = APIRouter(prefix="/v1", tags=["chat completions"])


async def _complete(
    body: ChatCompletionRequest,
    principal: Principal,
    session_id: uuid.UUID | None,
    db: Db,
    settings: AppSettings,
) -> Response:
    if session_id is not None and is_opening(body):
        # A provider opening the conversation (LiveAvatar FULL may ask before anyone spoke) gets the greeting.
        greeting = await session_greeting(db, principal, session_id)
        if body.stream:
            return StreamingResponse(
                greeting_chunks(greeting, body.model), media_type="text/event-stream", headers=SSE_HEADERS
            )
        return JSONResponse(greeting_completion(greeting, body.model))
    request, history = turn_of(body)
    engine = turn_engine(db, settings)
    session = await session_for(db, principal, session_id)
    turn = await engine.start(principal, session, request, history=history)
    if body.stream:
        return StreamingResponse(
            completion_chunks(engine, turn, body.model), media_type="text/event-stream", headers=SSE_HEADERS
        )
    prompt_chars = sum(len(m.text) for m in body.messages)
    return JSONResponse(await completion(turn, engine.events(turn), body.model, prompt_chars))


# The answer: a `chat.completion` object, or `chat.completion.chunk` server-sent events with `stream`.
_COMPLETION = {
    200: {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {},
        }
    },
    **problems(409, 502, 503),
}


@router.post("/chat/completions", responses=_COMPLETION)
async def chat_completions(
    body: ChatCompletionRequest, caller: ApiKeyUser, db: Db, settings: AppSettings
) -> Response:
    """OpenAI Chat Completions with an avatar API key; recorded in the key's 'api' session."""
    return await _complete(body, caller, None, db, settings)


@router.post("/sessions/{session_id}/chat/completions", responses=_COMPLETION)
# LiveAvatar calls `<base_url>/v1/chat/completions` (docs.liveavatar.com/docs/custom-llm-integration);
# OpenAI clients given the same base URL call `<base_url>/chat/completions`.
@router.post("/sessions/{session_id}/v1/chat/completions", responses=_COMPLETION)
async def session_chat_completions(
    session_id: uuid.UUID, body: ChatCompletionRequest, caller: SessionCaller, db: Db, settings: AppSettings
) -> Response:
    """The same, inside a live session: for a provider's custom-LLM mode holding the session's callback
    token (good for this route of this session only, until the session ends), or the session's user."""
    return await _complete(body, caller, session_id, db, settings)
