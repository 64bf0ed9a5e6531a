"""Request and response bodies of the Insights, feedback and unanswered-question routes."""

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedbackIn(StrictBody):
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)


class FeedbackOut(BaseModel):
    message_id: uuid.UUID
    rating: Literal["up", "down"]
    comment: str


class AudibleIn(StrictBody):
    """Milliseconds from sending the question to the first sound of the reply, as the client measured."""

    first_audible_ms: int = Field(ge=0, le=600_000)


# A price is a number: `true` or "0.1" is refused, not read as one.
Price = Annotated[float, Field(ge=0, strict=True)]


class Prices(StrictBody):
    """US dollars. Provider prices are per streamed minute; the rest per unit named."""

    provider_minute: dict[str, Price] = Field(default={})
    llm_input_per_million_tokens: Price
    llm_output_per_million_tokens: Price
    tts_per_thousand_characters: Price
    stt_per_minute: Price


class DayCount(BaseModel):
    day: date
    conversations: int
    by_user: int
    idle: int
    expired: int
    error: int
    reconnected: int
    active: int
    messages: int


class ProviderMinutes(BaseModel):
    provider: str
    minutes: float


class LatencyDay(BaseModel):
    day: date
    turns: int
    retrieval_p50: float | None
    retrieval_p90: float | None
    first_token_p50: float | None
    first_token_p90: float | None
    first_sentence_p50: float | None
    first_sentence_p90: float | None
    first_audible_p50: float | None
    first_audible_p90: float | None


class Cost(BaseModel):
    """Estimated US dollars for the range, by part, and per conversation."""

    provider: float
    llm: float
    tts: float
    stt: float
    total: float
    per_conversation: float | None
    prompt_tokens: int
    completion_tokens: int
    tts_characters: int
    stt_seconds: float


class Measure(BaseModel):
    """A success measure of the product's plan, its value over the range and whether it meets the target."""

    key: str
    label: str
    value: float | None
    target: str
    unit: str
    met: bool | None  # None: no data in the range


class Summary(BaseModel):
    conversations: int
    completed: int
    avg_minutes: float | None
    avg_messages: float | None
    visitors: int
    returning_visitors: int
    turns: int
    rated_up: int
    rated_down: int
    response_p90_ms: float | None


class Allowance(BaseModel):
    month_start: date
    minutes_used: float
    minutes_allowed: float


class InsightsReport(BaseModel):
    start: date
    end: date
    avatar_id: uuid.UUID | None
    summary: Summary
    days: list[DayCount]
    minutes: list[ProviderMinutes]
    allowance: Allowance
    latency: list[LatencyDay]
    cost: Cost
    prices: Prices
    measures: list[Measure]


Reason = Literal["refused", "no_sources", "rated_down"]


class UnansweredQuestion(BaseModel):
    question_id: uuid.UUID
    answer_id: uuid.UUID
    session_id: uuid.UUID
    question: str
    answer: str
    reason: Reason
    comment: str | None
    asked_at: str


class UnansweredGroup(BaseModel):
    """Questions that ask the same thing, most asked first; `keys` mark the group answered."""

    avatar_id: uuid.UUID
    question: str
    count: int
    reasons: list[str]
    keys: list[str]
    last_asked_at: str
    examples: list[UnansweredQuestion]


class AnswerGroup(StrictBody):
    avatar_id: uuid.UUID
    question: str = Field(min_length=1, max_length=4000)
    answer: str = Field(min_length=1, max_length=20000)
    keys: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(min_length=1, max_length=50)


class AnsweredGroup(BaseModel):
    document_id: uuid.UUID
    status: str
    keys: list[str]
