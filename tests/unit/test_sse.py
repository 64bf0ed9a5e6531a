"""The framing of a turn's server-sent events: what `turn_event` writes for a delta without a model dump
is byte for byte what the general framing writes, and each group of events goes out as one piece."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from functions.core.turns.models import (
    DeltaEvent,
    Sentence,
    SentenceEvent,
    TurnDelta,
    TurnEvent,
    TurnUser,
    UserEvent,
)
from functions.core.turns.sse import sse_event, sse_stream, turn_event

TEXTS = [
    " It",
    "",
    ' says "hi"\\ and / slashes',
    "line\nbreak\r\tand \x00\x1f controls",
    " naïve café — 日本語 😀",
    "\u2028\u2029 separators, \ud7ff and \ue000",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_delta_is_framed_as_the_general_framing_frames_it(text: str) -> None:
    event = DeltaEvent(data=TurnDelta(text=text))
    assert turn_event(event) == sse_event("delta", event.data.model_dump(mode="json"))


def test_other_events_are_framed_by_their_model() -> None:
    event = SentenceEvent(data=Sentence.of(0, "It ships today [1]."))
    framed = turn_event(event)
    assert framed == sse_event("sentence", event.data.model_dump(mode="json"))
    assert framed.startswith(b'event: sentence\ndata: {"index":0,"text":"It ships today [1].",')


def test_each_batch_is_one_piece_of_the_stream() -> None:
    user = UserEvent(data=TurnUser(turn_id="t1", message_id=uuid.uuid4(), text="When?"))
    delta = DeltaEvent(data=TurnDelta(text=" today."))
    sentence = SentenceEvent(data=Sentence.of(0, "It ships today."))
    batches: list[list[TurnEvent]] = [[user], [delta, sentence]]

    async def produce() -> AsyncIterator[list[TurnEvent]]:
        for batch in batches:
            yield batch

    async def pieces() -> list[bytes]:
        return [piece async for piece in sse_stream(produce())]

    assert asyncio.run(pieces()) == [turn_event(user), turn_event(delta) + turn_event(sentence)]
