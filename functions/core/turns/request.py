"""A turn arrives as JSON text, or as a multipart form whose audio is transcribed first."""

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


async def read_turn_request(request: Request, settings: Settings) -> TurnRequest:
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
        if isinstance(audio, UploadFile):
            from functions.core.speech.stt import transcribe

            text = await transcribe(
                await audio.read(), audio.filename or "audio", audio.content_type or "", settings
            )
    try:
        return TurnRequest.model_validate({"turn_id": turn_id, "text": text})
    except ValidationError as exc:
        raise _invalid(exc) from exc
