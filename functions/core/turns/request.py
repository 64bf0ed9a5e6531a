"""A turn arrives as JSON text, or as a multipart form whose audio is transcribed first."""

from time import perf_counter
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from functions.core.settings import Settings
from functions.core.turns.models import TurnRequest


def _invalid(exc: ValidationError) -> RequestValidationError:
    errors: list[Any] = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    return RequestValidationError(errors)


async def read_turn_request(request: Request, settings: Settings) -> tuple[TurnRequest, float | None]:
    """The turn, and how long transcribing its recording took in ms (None for a typed turn)."""
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("multipart/form-data"):
        try:
            return TurnRequest.model_validate_json(await request.body()), None
        except ValidationError as exc:
            raise _invalid(exc) from exc
    stt_ms = None
    async with request.form(max_files=1, max_fields=4) as form:
        turn_id = form.get("turn_id")
        audio = form.get("audio")
        text = form.get("text")
        if isinstance(audio, UploadFile):
            from functions.core.speech.stt import transcribe

            recording = await audio.read()
            started = perf_counter()
            text = await transcribe(recording, audio.filename or "audio", audio.content_type or "", settings)
            stt_ms = 1000 * (perf_counter() - started)
    try:
        return TurnRequest.model_validate({"turn_id": turn_id, "text": text}), stt_ms
    except ValidationError as exc:
        raise _invalid(exc) from exc
