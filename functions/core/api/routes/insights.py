import re
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from functions.core.api.deps import AppSettings, CurrentUser, Db, OwnerUser
from functions.core.insights import export, feedback, prices
from functions.core.insights.models import (
    AnsweredGroup,
    AnswerGroup,
    AudibleIn,
    FeedbackIn,
    FeedbackOut,
    InsightsReport,
    Prices,
    UnansweredGroup,
)
from functions.core.turns.ids import TURN_ID_PATTERN

# The report, the unanswered questions (with what answering them indexes) and the export are imported by
# the routes that run them: they reach sessions, knowledge and the language model, which the function's
# other routes never need at its cold start.
router = APIRouter(prefix="/v1", tags=["insights"])

TurnId = Annotated[str, Path(min_length=1, max_length=100, pattern=TURN_ID_PATTERN)]


def _iso_day(value: object) -> object:
    """A day as YYYY-MM-DD only (pydantic would also read "0" as a Unix time)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


From = Annotated[
    date | None, Query(alias="from", description="first UTC day, YYYY-MM-DD"), BeforeValidator(_iso_day)
]
To = Annotated[
    date | None, Query(alias="to", description="last UTC day, inclusive"), BeforeValidator(_iso_day)
]


@router.get("/insights")
async def get_insights(
    user: OwnerUser,
    db: Db,
    settings: AppSettings,
    start: From = None,
    end: To = None,
    avatar_id: uuid.UUID | None = None,
) -> InsightsReport:
    from functions.core.insights.report import DateRange, insights_report

    return await insights_report(db, user, DateRange(start, end), avatar_id, settings)


@router.get("/insights/unanswered")
async def get_unanswered(
    user: OwnerUser, db: Db, start: From = None, end: To = None, avatar_id: uuid.UUID | None = None
) -> list[UnansweredGroup]:
    from functions.core.insights import unanswered
    from functions.core.insights.report import DateRange

    window = DateRange(start, end)
    return await unanswered.unanswered_questions(db, user, window.start, window.end, avatar_id)


@router.post("/insights/unanswered/answer", status_code=201)
async def answer_unanswered(
    body: AnswerGroup, user: OwnerUser, db: Db, settings: AppSettings, background: BackgroundTasks
) -> AnsweredGroup:
    """The owner's answer becomes a knowledge entry, indexed like an upload; the group is marked answered."""
    from functions.core.insights import unanswered
    from functions.core.knowledge.indexing import run_indexing

    upload = unanswered.answer_upload(body, settings.max_upload_bytes)
    answered, needs_indexing = await unanswered.answer_group(db, user, body, upload)
    if needs_indexing:
        background.add_task(run_indexing, db, user, answered.document_id, upload, settings)
    return answered


@router.get("/insights/export", response_class=StreamingResponse)
async def export_transcripts(
    user: OwnerUser,
    db: Db,
    start: From = None,
    end: To = None,
    avatar_id: uuid.UUID | None = None,
    fmt: Annotated[export.Format, Query(alias="format")] = "csv",
) -> StreamingResponse:
    """Every message of the range's conversations, oldest conversation first, as CSV or JSON Lines."""
    from functions.core.insights.report import DateRange

    window = DateRange(start, end)
    name = f"transcripts-{window.start}-{window.end}.{fmt}"
    return StreamingResponse(
        export.export_transcripts(db, user, window.start, window.end, avatar_id, fmt),
        media_type=export.MEDIA_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/insights/prices")
async def get_prices(user: OwnerUser, db: Db) -> Prices:
    return await prices.get_prices(db, user)


@router.put("/insights/prices")
async def put_prices(body: Prices, user: OwnerUser, db: Db) -> Prices:
    return await prices.set_prices(db, user, body)


@router.put("/messages/{message_id}/feedback")
async def rate_answer(message_id: uuid.UUID, body: FeedbackIn, user: CurrentUser, db: Db) -> FeedbackOut:
    return await feedback.rate_answer(db, user, message_id, body)


@router.delete("/messages/{message_id}/feedback", status_code=204)
async def withdraw_rating(message_id: uuid.UUID, user: CurrentUser, db: Db) -> Response:
    await feedback.withdraw_rating(db, user, message_id)
    return Response(status_code=204)


@router.post("/sessions/{session_id}/turns/{turn_id}/audible", status_code=204)
async def report_first_audible(
    session_id: uuid.UUID, turn_id: TurnId, body: AudibleIn, user: CurrentUser, db: Db
) -> Response:
    await feedback.record_first_audible(db, user, session_id, turn_id, body.first_audible_ms)
    return Response(status_code=204)
