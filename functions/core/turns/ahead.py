"""A spoken turn's recording transcribed ahead of the turn, while the visitor's silence is still timed.

Hands-free voice input waits for the avatar's end-of-speech wait before it takes a question as finished.
Once part of that silence has passed, the web client sends the recording so far, with the turn id it
will use; the local engine transcribes it, and the turn that follows with the same recording takes that
text (`stt.transcribed_locally` knows it by the recording's bytes) instead of transcribing it again. If
the visitor speaks on, the client records a new utterance under a new turn id and this text is never
used. Nothing is stored here: the turn alone stores the question, once, under its turn id, so a
transcription ahead can neither lose nor repeat a message. Only the local engine transcribes ahead (its
text stays in this process; a provider would be paid twice).
"""

import uuid

from pydantic import BaseModel

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.settings import Settings
from functions.core.speech.limits import count_speech_request
from functions.core.speech.stt import SpeechToTextUnavailable, transcribe, voice_input
from functions.core.turns.engine import asked_in_live_session
from functions.core.turns.request import AudioTurn

AHEAD_UNAVAILABLE = "This server transcribes a recording with its turn only: send the turn instead."


class AheadTranscript(BaseModel):
    """What the turn with this turn id and recording will take as its question."""

    text: str


async def transcribe_ahead(
    db: Database,
    settings: Settings,
    principal: Principal,
    session_id: uuid.UUID,
    audio: AudioTurn,
    now: float,
) -> AheadTranscript:
    """The question the recording of turn `audio.turn_id` holds; the stored one if the turn was taken.
    `now` (epoch seconds) places the request in its session's speech rate window.

    404 without such a session, 409 once it is over, 429 past the session's speech requests a minute,
    501 when this server does not transcribe ahead (no local engine, or not for the avatar's language),
    and the problems of a transcription (413, 415, 422)."""
    asked = await asked_in_live_session(db, settings, principal, session_id, audio.turn_id)
    if asked.question is not None:
        return AheadTranscript(text=asked.question)
    if not voice_input(settings, asked.language).ahead:
        raise SpeechToTextUnavailable(AHEAD_UNAVAILABLE)
    await count_speech_request(db, session_id, settings, now)
    text = await transcribe(
        audio.audio, audio.filename, audio.content_type, settings, language=asked.language
    )
    return AheadTranscript(text=text)
