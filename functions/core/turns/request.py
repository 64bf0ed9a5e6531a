"""A turn arrives as JSON text, or as a multipart form with a recording (or, without one, the text)."""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from functions.core.turns.models import TURN_ID_PATTERN, TurnRequest


class AudioTurn(BaseModel):
    """A spoken question, transcribed by the engine once it knows the session can take it."""

    model_config = ConfigDict(frozen=True)

    turn_id: str = Field(min_length=1, max_length=100, pattern=TURN_ID_PATTERN)
    audio: bytes
    filename: str
    content_type: str


def _invalid(exc: ValidationError) -> RequestValidationError:
    errors: list[Any] = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    return RequestValidationError(errors)


async def read_recording(request: Request, turn_id: str) -> AudioTurn:
    """The recording of turn `turn_id`: a multipart form with one file, `audio` (422 without it)."""
    async with request.form(max_files=1, max_fields=1) as form:
        audio = form.get("audio")
        if not isinstance(audio, UploadFile):
            raise RequestValidationError(
                [
                    {
                        "type": "missing",
                        "loc": ("body", "audio"),
                        "msg": "a recording is required",
                        "input": None,
                    }
                ]
            )
        return AudioTurn(
            turn_id=turn_id,
            audio=await audio.read(),
            filename=audio.filename or "audio",
            content_type=audio.content_type or "",
        )


def turn_request(turn_id: Any, text: Any) -> TurnRequest:
    """The turn's JSON body, validated as the JSON route validates it (422 problems)."""
    try:
        return TurnRequest.model_validate({"turn_id": turn_id, "text": text})
    except ValidationError as exc:
        raise _invalid(exc) from exc


async def read_turn_request(request: Request) -> TurnRequest | AudioTurn:
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("multipart/form-data"):
        try:
            return TurnRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise _invalid(exc) from exc
    async with request.form(max_files=1, max_fields=4) as form:
        turn_id = form.get("turn_id")
        audio = form.get("audio")
        text = form.get("text")
        if not isinstance(audio, UploadFile):
            return turn_request(turn_id, text)
        try:
            return AudioTurn.model_validate(
                {
                    "turn_id": turn_id,
                    "audio": await audio.read(),
                    "filename": audio.filename or "audio",
                    "content_type": audio.content_type or "",
                }
            )
        except ValidationError as exc:
            raise _invalid(exc) from exc
