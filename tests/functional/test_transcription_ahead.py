"""A spoken turn's recording transcribed ahead of the turn (while hands-free voice input still times the
visitor's silence): the turn that follows with the same recording takes that text, transcribed once, and
nothing is stored until the turn itself comes, once, whatever is retried."""

from collections import OrderedDict
from typing import Any

import httpx
import pytest

from functions.core.settings import get_settings
from functions.core.speech import local_stt, stt
from tests.conftest import User, UserFactory
from tests.functional.support import Api, assert_problem
from tests.functional.test_local_stt import spoken_wav, words
from tests.functional.turns_support import Admin, add_knowledge, parse_sse

QUESTION = "Are you open on Sunday?"
OTHER = "How long does delivery take to Rotterdam?"


@pytest.fixture(scope="module")
def recordings() -> dict[str, bytes]:
    return {text: spoken_wav(text) for text in (QUESTION, OTHER)}


@pytest.fixture(scope="module")
def heard(recordings: dict[str, bytes]) -> dict[str, list[str]]:
    """The words Whisper hears in each recording, read once here: its greedy decoding gives the same
    words for the same bytes, whereas Piper's speech of a text may be misheard in a word."""
    return {text: words(local_stt.transcribe_bytes(audio)) for text, audio in recordings.items()}


@pytest.fixture
def transcriptions(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every recording Whisper is given (the real model still transcribes it), none heard before."""
    monkeypatch.setattr(stt, "_recent", OrderedDict())
    given: list[bytes] = []
    transcribe_bytes = local_stt.transcribe_bytes

    def counted(audio: bytes) -> str:
        given.append(audio)
        return transcribe_bytes(audio)

    monkeypatch.setattr(local_stt, "transcribe_bytes", counted)
    return given


def ahead(client: httpx.Client, user: User, session_id: str, turn_id: str, audio: bytes) -> httpx.Response:
    return client.post(
        f"/v1/sessions/{session_id}/turns/{turn_id}/transcription",
        files={"audio": ("speech.wav", audio, "audio/wav")},
        headers=user.headers,
    )


def spoken_turn(
    client: httpx.Client, user: User, session_id: str, turn_id: str, audio: bytes
) -> dict[str, Any]:
    with client.stream(
        "POST",
        f"/v1/sessions/{session_id}/turns",
        data={"turn_id": turn_id},
        files={"audio": ("speech.wav", audio, "audio/wav")},
        headers={**user.headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, response.read()
        events: dict[str, Any] = {name: data for name, data, _ in parse_sse(response.iter_lines())}
    return events


def test_the_turn_takes_the_text_transcribed_ahead_and_whisper_hears_the_recording_once(
    client: httpx.Client,
    api: Api,
    admin: Admin,
    owner: User,
    recordings: dict[str, bytes],
    heard: dict[str, list[str]],
    transcriptions: list[bytes],
) -> None:
    avatar = api.create_avatar(owner)
    add_knowledge(admin, avatar["id"], "Hours", [(["Hours"], "On Sundays we open from ten until two.")])
    session = api.start_session(owner, avatar["id"])["session_id"]
    audio = recordings[QUESTION]

    response = ahead(client, owner, session, "spoken-1", audio)
    assert response.status_code == 200, response.text
    assert words(response.json()["text"]) == heard[QUESTION]
    assert admin.execute(
        "select count(*) as n from public.streaming_messages where session_id = %s", (session,)
    ).fetchone() == {"n": 0}, "transcribing ahead stores nothing"

    events = spoken_turn(client, owner, session, "spoken-1", audio)
    assert words(events["user"]["text"]) == heard[QUESTION]
    assert events["done"]["reply"] == "On Sundays we open from ten until two [1]."
    # The same turn again (a retry), and its recording ahead again: the stored question, nothing heard.
    assert (
        words(ahead(client, owner, session, "spoken-1", recordings[OTHER]).json()["text"]) == heard[QUESTION]
    )
    spoken_turn(client, owner, session, "spoken-1", audio)
    assert transcriptions == [audio]
    rows = admin.execute(
        "select role, count(*) as n from public.streaming_messages where session_id = %s group by role"
        " order by role",
        (session,),
    ).fetchall()
    assert rows == [{"role": "assistant", "n": 1}, {"role": "user", "n": 1}]


def test_a_recording_the_visitor_spoke_on_after_is_never_a_message(
    client: httpx.Client,
    api: Api,
    admin: Admin,
    owner: User,
    recordings: dict[str, bytes],
    heard: dict[str, list[str]],
    transcriptions: list[bytes],
) -> None:
    """Ahead under one turn id, then the visitor speaks on: the longer utterance goes as another turn."""
    session = api.start_session(owner, api.create_avatar(owner)["id"])["session_id"]
    assert ahead(client, owner, session, "spoken-a", recordings[QUESTION]).status_code == 200
    events = spoken_turn(client, owner, session, "spoken-b", recordings[OTHER])
    assert words(events["user"]["text"]) == heard[OTHER]
    said = admin.execute(
        "select turn_id, content from public.streaming_messages where session_id = %s and role = 'user'",
        (session,),
    ).fetchall()
    assert [(row["turn_id"], words(str(row["content"]))) for row in said] == [("spoken-b", heard[OTHER])]
    assert transcriptions == [recordings[QUESTION], recordings[OTHER]]


def test_ahead_is_refused_for_no_session_another_users_an_ended_one_and_without_a_recording(
    client: httpx.Client, api: Api, owner: User, make_user: UserFactory, recordings: dict[str, bytes]
) -> None:
    avatar = api.create_avatar(owner)
    ended = api.start_session(owner, avatar["id"])["session_id"]
    api.end_session(owner, ended)
    live = api.start_session(owner, avatar["id"])["session_id"]
    audio = recordings[QUESTION]
    assert_problem(
        ahead(client, owner, "00000000-0000-4000-8000-000000000000", "t-1", audio), 404, "not_found"
    )
    assert_problem(ahead(client, make_user(), live, "t-1", audio), 404, "not_found")
    assert_problem(ahead(client, owner, ended, "t-1", audio), 409, "session_ended")
    response = client.post(
        f"/v1/sessions/{live}/turns/t-1/transcription", data={"text": "hello"}, headers=owner.headers
    )
    assert response.status_code == 422, response.text


def test_without_the_local_engine_nothing_is_transcribed_ahead(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, api: Api, owner: User, recordings: dict[str, bytes]
) -> None:
    session = api.start_session(owner, api.create_avatar(owner)["id"])["session_id"]
    monkeypatch.setenv("LOCAL_STT", "false")
    get_settings.cache_clear()
    try:
        response = ahead(client, owner, session, "t-2", recordings[QUESTION])
    finally:
        get_settings.cache_clear()
    assert_problem(response, 501, "stt_unavailable")
