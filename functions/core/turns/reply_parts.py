"""What a reply carries beside its text, sent with the turn and stored with the message: the sources it was
given and its timings. Apart from the turn's models, so the session history does not build those."""

import uuid

from pydantic import BaseModel


class Source(BaseModel):
    """A knowledge-base chunk the reply was given, numbered as the prompt numbered it."""

    index: int
    chunk_id: uuid.UUID
    document_id: uuid.UUID | None
    title: str
    heading_path: list[str]
    excerpt: str


class Timings(BaseModel):
    """Milliseconds: retrieval's own duration, the model's time to its first token, and from the start
    of the turn to the first complete sentence and to the stored reply."""

    retrieval_ms: float | None = None
    llm_first_token_ms: float | None = None
    first_sentence_ms: float | None = None
    total_ms: float | None = None
