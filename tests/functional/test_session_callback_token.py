"""The credential LiveAvatar FULL holds (our custom-LLM secret) works for one session's chat completions
and nothing else, and dies with the session: probed from outside, over real HTTP, against every route.

LiveAvatar is faked at its HTTP boundary as its OpenAPI describes `POST /v1/secrets` and
`POST /v1/llm_configurations` (https://docs.liveavatar.com/reference, PROVIDERS.md §2.3): the secret's
`secret_value` is exactly what LiveAvatar's servers later send us as `Authorization: Bearer`.
"""

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.functional.test_turns import REFUNDS
from tests.functional.test_widget_token import SITE, Widget, visitor_headers
from tests.functional.turns_support import add_knowledge
from tests.providers.fake import FakeProvider, liveavatar_fake
from tests.providers.vendors import serve

Admin = psycopg.Connection[Any]
QUESTION = {"model": "x", "messages": [{"role": "user", "content": "How do refunds work?"}]}
# Routes anyone may call without a token: a bearer token there grants nothing, so they are not probed.
# Routes that take no bearer token at all; the local upload stand-in is authorised by its signed form.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/v1/config"),
    ("POST", "/v1/widget/token"),
    ("POST", "/v1/dev/login"),
    ("POST", "/v1/dev/uploads"),
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    return serve(monkeypatch, LiveAvatarProvider, liveavatar_fake())


@pytest.fixture
def public_base(monkeypatch: pytest.MonkeyPatch, base_url: str) -> Iterator[str]:
    monkeypatch.setenv("PUBLIC_API_BASE", base_url)
    get_settings.cache_clear()
    yield base_url
    monkeypatch.delenv("PUBLIC_API_BASE")
    get_settings.cache_clear()


@pytest.fixture
def scene(
    client: httpx.Client, api: Api, admin: Admin, owner: User, fake: FakeProvider, public_base: str
) -> dict[str, Any]:
    """The owner's FULL session on one avatar and a visitor's session (with a message) on another."""
    full = api.create_avatar(
        owner,
        provider="liveavatar",
        provider_avatar_id=str(uuid.uuid4()),
        provider_options={"mode": "FULL"},
    )
    add_knowledge(admin, full["id"], "Help centre", [REFUNDS])
    other = api.create_avatar(owner, name="Shop", allowed_origins=[SITE])
    visitor = Widget(client).token(other["public_id"])
    visited = client.post(
        "/v1/sessions", json={"avatar_id": other["id"]}, headers=visitor_headers(visitor["token"])
    )
    assert visited.status_code == 201, visited.text
    visitor_session = visited.json()["session_id"]
    turn = client.post(
        f"/v1/sessions/{visitor_session}/turns",
        json={"turn_id": "v-1", "text": "Hello?"},
        headers=visitor_headers(visitor["token"]),
    )
    assert turn.status_code == 200, turn.text
    session_id = api.start_session(owner, full["id"])["session_id"]
    [secret] = fake.calls("POST", "/v1/secrets")
    token = secret.body["secret_value"]
    return {
        "token": token,
        "session_id": session_id,
        "full_avatar": full["id"],
        "other_avatar": other["id"],
        "visitor_session": visitor_session,
    }


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _operations(base_url: str) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
    """Every operation, and those that declare the session callback token (the callback routes)."""
    spec = httpx.get(f"{base_url}/openapi.json").json()
    operations = [(m.upper(), path) for path, item in spec["paths"].items() for m in item]
    callbacks = {
        (m.upper(), path)
        for path, item in spec["paths"].items()
        for m, operation in item.items()
        if any("SessionCallbackToken" in requirement for requirement in operation.get("security", []))
    }
    return operations, callbacks


def _urls(path: str, scene: dict[str, Any]) -> list[str]:
    """The path filled with every id the token could plausibly reach: its own session and avatar, the
    visitor's session and the other avatar, and ids of nothing."""
    values = {
        "session_id": [scene["session_id"], scene["visitor_session"], str(uuid.uuid4())],
        "avatar_id": [scene["full_avatar"], scene["other_avatar"]],
        "key_id": [str(uuid.uuid4())],
        "document_id": [str(uuid.uuid4())],
        "turn_id": ["v-1"],
    }
    urls = [path]
    for name in re.findall(r"{(\w+)}", path):
        # Any other id (a tool, a contact, a document's upload...): one of nothing.
        chosen = values.get(name, [str(uuid.uuid4())])
        urls = [url.replace(f"{{{name}}}", value) for url in urls for value in chosen]
    return urls


def test_the_provider_held_token_answers_its_session_and_is_refused_everywhere_else(
    base_url: str, admin: Admin, scene: dict[str, Any]
) -> None:
    token = scene["token"]
    with httpx.Client(base_url=base_url, timeout=10) as outside:
        reply = outside.post(
            f"/v1/sessions/{scene['session_id']}/chat/completions", json=QUESTION, headers=_bearer(token)
        )
        assert reply.status_code == 200, reply.text
        assert "original card" in reply.json()["choices"][0]["message"]["content"]

        operations, callbacks = _operations(base_url)
        probed = [op for op in operations if op not in PUBLIC]
        assert ("POST", "/v1/sessions/{session_id}/chat/completions") in callbacks
        assert len(probed) > 20
        answers: dict[str, int] = {}
        for method, path in probed:
            for url in _urls(path, scene):
                if (method, path) in callbacks and scene["session_id"] in url:
                    continue
                response = outside.request(method, url, json=QUESTION, headers=_bearer(token))
                answers[f"{method} {url}"] = response.status_code
                assert_problem(response, response.status_code)
    let_through = {request: status for request, status in answers.items() if status not in (401, 403, 404)}
    assert let_through == {}
    # Nothing reached the visitor's session: it still holds only its own turn.
    count = admin.execute(
        "select count(*) as n from public.streaming_messages where session_id = %s",
        (scene["visitor_session"],),
    ).fetchone()
    assert count is not None
    assert count["n"] == 2


def test_another_session_a_browser_and_an_ended_session_are_refused(
    base_url: str, api: Api, owner: User, scene: dict[str, Any]
) -> None:
    token, session_id = scene["token"], scene["session_id"]
    route = f"{base_url}/v1/sessions/{session_id}/chat/completions"

    other = httpx.post(
        f"{base_url}/v1/sessions/{scene['visitor_session']}/chat/completions",
        json=QUESTION,
        headers=_bearer(token),
    )
    assert_problem(other, 403, "forbidden")
    from_a_page = httpx.post(route, json=QUESTION, headers={**_bearer(token), "origin": SITE})
    assert_problem(from_a_page, 403, "forbidden")
    assert httpx.post(route, json=QUESTION, headers=_bearer(token), timeout=10).status_code == 200

    api.end_session(owner, session_id)
    after = httpx.post(route, json=QUESTION, headers=_bearer(token))
    assert_problem(after, 401, "unauthorized")
    assert "ended" in after.json()["detail"]


def test_the_token_is_not_a_user_or_visitor_token(scene: dict[str, Any]) -> None:
    claims = jwt.decode(scene["token"], options={"verify_signature": False})
    assert claims["session_id"] == scene["session_id"]
    assert claims["aud"] != get_settings().jwt_audience
    assert "role" not in claims
    assert "origin" not in claims
