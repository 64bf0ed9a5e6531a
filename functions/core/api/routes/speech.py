import uuid

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.api.deps import AppSettings, Clock, CurrentUser, Db
from functions.core.api.openapi import problems
from functions.core.auth.tokens import Principal
from functions.core.avatar_basics import Voice
from functions.core.db.pool import Database
from functions.core.errors import NotFound
from functions.core.sessions.state import SESSION_NOT_FOUND, refuse_ended_session
from functions.core.settings import Settings
from functions.core.speech.limits import count_speech_request
from functions.core.speech.tts import AudioFormat, synthesize
from functions.core.text.speakable import speakable
from functions.core.turns.models import NOT_BLANK

router = APIRouter(prefix="/v1", tags=["speech"])

# The caller's own session (not one of their avatar's visitors') with its avatar's voice, through RLS.
_SESSION_VOICE = (
    "select private.session_is_live(s) as live, a.voice"
    " from public.streaming_sessions s"
    " left join lateral private.session_avatar(s.avatar_id) a on true"
    " where s.id = %s and s.user_id = (select auth.uid())"
)


_AUDIO = ("audio/pcm", "audio/wav", "audio/mpeg")


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: uuid.UUID
    text: str = Field(min_length=1, max_length=5000, pattern=NOT_BLANK)
    format: AudioFormat

    @field_validator("text")
    @classmethod
    def _speakable(cls, value: str) -> str:
        """Whatever a client sends, Markdown, code, links and citation markers are never read out."""
        words = speakable(value)
        if not words:
            raise ValueError("there is nothing to say in this text")
        return words


async def _session_voice(
    db: Database, principal: Principal, session_id: uuid.UUID, settings: Settings
) -> Voice:
    async with db.as_user(principal.claims) as conn:
        cur = await conn.execute(_SESSION_VOICE, (session_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(SESSION_NOT_FOUND)
    if not row["live"]:
        await refuse_ended_session(db, principal, session_id, settings)
    return Voice.model_validate(row["voice"] or {})


@router.post(
    "/tts",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The audio, streamed as it is synthesized",
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in _AUDIO},
        },
        **problems(409, 502, 503),
    },
)
async def text_to_speech(
    body: SpeechRequest, user: CurrentUser, db: Db, settings: AppSettings, clock: Clock
) -> StreamingResponse:
    """Speak `text` in the voice of the session's avatar, streamed as it is synthesized."""
    voice = await _session_voice(db, user, body.session_id, settings)
    await count_speech_request(db, body.session_id, settings, clock())
    speech = await synthesize(voice, body.text, body.format, settings)
    return StreamingResponse(speech.chunks, media_type=speech.media_type, headers=speech.headers)
