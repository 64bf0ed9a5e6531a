"""HeyGen LiveAvatar at the HTTP boundary: FULL and LITE tokens, stop, keep-alive and list."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import AvatarSpec, SessionRequest
from functions.core.providers.avatar.liveavatar import LiveAvatarProvider
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem, session_row
from tests.functional.test_cleanup import sweep_on_a_new_loop
from tests.providers.checks import assert_start_fails
from tests.providers.fake import LIVEAVATAR_BASE, LIVEAVATAR_KEY, FakeProvider, liveavatar_fake
from tests.providers.fake import timeout as fake_timeout
from tests.providers.vendors import serve, vendor

Admin = psycopg.Connection[Any]
AVATAR_UUID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
VOICE_UUID = "0b9e4a3c-7d51-4f4e-9c1a-2f6d8e5b7a10"
CHAT_KEY = "sk-avs-session-key"
ELEVENLABS_KEY = "el-key-0123456789"


def full_request(voice: dict[str, Any] | None = None, **request: Any) -> SessionRequest:
    return SessionRequest(
        session_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        avatar=AvatarSpec(
            avatar_id=uuid.UUID("00000000-0000-4000-8000-000000000002"),
            provider_avatar_id=AVATAR_UUID,
            voice=voice or {"provider": "liveavatar", "voice_id": VOICE_UUID},
            options={"mode": "FULL", "voice_settings": {"speed": 1.1}},
            persona="You are Ava, a bakery guide.",
            greeting="Hallo!",
            quality="high",
            language="de-DE",
            max_session_seconds=900,
        ),
        expires_at=datetime.now(UTC),
        **request,
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    return serve(monkeypatch, LiveAvatarProvider, liveavatar_fake())


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(
        owner,
        provider="liveavatar",
        provider_avatar_id=AVATAR_UUID,
        provider_options={"mode": "LITE", "sandbox": True},
    )


def test_a_lite_start_returns_a_session_token_and_never_the_key(
    client: httpx.Client, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    response = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=owner.headers)
    assert response.status_code == 201, response.text
    assert LIVEAVATAR_KEY not in response.text
    [minted] = fake.calls("POST", "/v1/sessions/token")
    assert minted.headers["x-api-key"] == LIVEAVATAR_KEY
    assert minted.body == {
        "mode": "LITE",
        "avatar_id": AVATAR_UUID,
        "is_sandbox": True,
        "video_settings": {"quality": "medium"},
    }
    session_id = next(iter(fake.live))
    credentials = response.json()["credentials"]
    assert credentials == {
        "mode": "LITE",
        "api_base": LIVEAVATAR_BASE,
        "session_id": session_id,
        "session_token": f"la-session-token-{session_id[:8]}",
    }
    assert session_row(admin, response.json()["session_id"])["provider_session_id"] == session_id


@pytest.mark.parametrize("code", [100, 1000])
async def test_a_full_token_points_the_custom_llm_at_our_chat_completions(code: int) -> None:
    """docs.liveavatar.com: api-reference/secrets/create-secret (secret_type enum),
    api-reference/llm-configurations/create-llm-configuration (hyphenated path, model_name),
    api-reference/contexts/create-context; PROVIDERS.md §0."""
    fake = liveavatar_fake(code=code)
    created = await vendor(LiveAvatarProvider, fake).create_session(
        full_request(
            chat_completions_base_url="https://api.studio.test/v1/sessions/s1", chat_api_key=CHAT_KEY
        )
    )

    label = "avatar-studio-00000000-0000-4000-8000-000000000001"
    [context] = fake.calls("POST", "/v1/contexts")
    assert context.body == {"name": label, "prompt": "You are Ava, a bakery guide.", "opening_text": "Hallo!"}
    [secret] = fake.calls("POST", "/v1/secrets")
    assert secret.body == {"secret_type": "OPENAI_API_KEY", "secret_value": CHAT_KEY, "secret_name": label}
    [config] = fake.calls("POST", "/v1/llm-configurations")
    assert config.body == {
        "display_name": label,
        "model_name": "avatar-00000000-0000-4000-8000-000000000002",
        "secret_id": created.resources["secret_id"],
        "base_url": "https://api.studio.test/v1/sessions/s1",
    }
    [minted] = fake.calls("POST", "/v1/sessions/token")
    assert minted.body == {
        "mode": "FULL",
        "avatar_id": AVATAR_UUID,
        "is_sandbox": False,
        "video_settings": {"quality": "high"},
        "avatar_persona": {
            "language": "de",
            "voice_id": VOICE_UUID,
            "context_id": created.resources["context_id"],
            "voice_settings": {"speed": 1.1},
        },
        "max_session_duration": 900,
        "llm_configuration_id": created.resources["llm_configuration_id"],
    }
    assert fake.kinds() == ["context", "llm", "secret"]
    assert created.credentials["mode"] == "FULL"
    assert CHAT_KEY not in str(created.credentials)
    assert LIVEAVATAR_KEY not in str(created.credentials)

    assert await vendor(LiveAvatarProvider, fake).release(created.resources) == {}
    assert fake.kinds() == []
    assert [seen.path.rsplit("/", 2)[1] for seen in fake.requests if seen.method == "DELETE"] == [
        "llm-configurations",
        "secrets",
        "contexts",
    ]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param(
            "/v1/secrets",
            {"secret_type": "LLM_API_KEY", "secret_value": "k", "secret_name": "n"},
            "secret_type",
            id="guide-secret-type",
        ),
        pytest.param(
            "/v1/llm-configurations",
            {"display_name": "n", "model": "m", "secret_id": "s", "base_url": "https://x"},
            "model_name",
            id="model-instead-of-model_name",
        ),
        pytest.param(
            "/v1/sessions/token",
            {"mode": "FULL", "avatar_id": AVATAR_UUID, "avatar_persona": {"language": "en-US"}},
            "language",
            id="regional-language",
        ),
    ],
)
def test_the_fake_refuses_what_the_reference_refuses(path: str, body: dict[str, Any], field: str) -> None:
    """The bodies the code used to send: the reference answers 422 naming the field."""
    fake = liveavatar_fake()
    with httpx.Client(transport=httpx.MockTransport(fake.handle), base_url=LIVEAVATAR_BASE) as raw:
        response = raw.post(path, json=body)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


async def test_a_refused_token_deletes_what_the_full_start_created() -> None:
    fake = liveavatar_fake()
    fake.on("POST", "/v1/sessions/token", httpx.Response(402, json={"code": 402, "message": "No credits"}))
    with pytest.raises(ProviderError):
        await vendor(LiveAvatarProvider, fake).create_session(
            full_request(
                chat_completions_base_url="https://api.studio.test/v1/sessions/s1", chat_api_key=CHAT_KEY
            )
        )
    assert len(fake.calls("POST", "/v1/llm-configurations")) == 1
    assert fake.kinds() == []


async def test_an_elevenlabs_voice_is_imported_once_with_our_elevenlabs_key() -> None:
    """docs.liveavatar.com api-reference/voices/import-third-party-voice: `{secret_id, voice_id}`."""
    fake = liveavatar_fake()
    provider = vendor(LiveAvatarProvider, fake, elevenlabs_api_key=ELEVENLABS_KEY)
    request = full_request(
        chat_completions_base_url="https://api.studio.test/v1/sessions/s1",
        chat_api_key=CHAT_KEY,
        voice={"provider": "elevenlabs", "voice_id": "EXAVITQu4vr4xnSDxMaL"},
    )
    first = await provider.create_session(request)
    [imported] = fake.calls("POST", "/v1/voices/third_party")
    voice_secret = fake.resources[("secret", imported.body["secret_id"])]
    assert voice_secret["secret_type"] == "ELEVENLABS_API_KEY"
    assert voice_secret["secret_value"] == ELEVENLABS_KEY
    assert imported.body["voice_id"] == "EXAVITQu4vr4xnSDxMaL"
    [(key, voice_id)] = first.assets.items()
    assert key == "voice:EXAVITQu4vr4xnSDxMaL"
    assert fake.calls("POST", "/v1/sessions/token")[0].body["avatar_persona"]["voice_id"] == voice_id

    second = await provider.create_session(request.model_copy(update={"assets": first.assets}))
    assert len(fake.calls("POST", "/v1/voices/third_party")) == 1
    assert second.assets == {}
    assert fake.calls("POST", "/v1/sessions/token")[1].body["avatar_persona"]["voice_id"] == voice_id
    assert ELEVENLABS_KEY not in str(second.credentials)


async def test_an_elevenlabs_voice_without_our_elevenlabs_key_is_refused_before_any_call() -> None:
    fake = liveavatar_fake()
    with pytest.raises(ProviderError) as raised:
        await vendor(LiveAvatarProvider, fake).create_session(
            full_request(
                chat_completions_base_url="https://api.studio.test/v1/sessions/s1",
                chat_api_key=CHAT_KEY,
                voice={"provider": "elevenlabs", "voice_id": "EXAVITQu4vr4xnSDxMaL"},
            )
        )
    assert "ELEVENLABS_API_KEY" in raised.value.detail
    assert fake.requests == []


async def test_full_mode_without_our_chat_url_and_key_is_refused_before_any_call() -> None:
    fake = liveavatar_fake()
    with pytest.raises(ProviderError) as raised:
        await vendor(LiveAvatarProvider, fake).create_session(full_request())
    assert "FULL mode needs our chat-completions URL" in raised.value.detail
    assert fake.requests == []


def test_ending_twice_stops_the_provider_session_once(
    api: Api, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    provider_session_id = session_row(admin, session_id)["provider_session_id"]
    api.end_session(owner, session_id)
    api.end_session(owner, session_id)
    stops = fake.calls("POST", "/v1/sessions/stop")
    assert [stop.body for stop in stops] == [{"session_id": provider_session_id, "reason": "USER_CLOSED"}]
    assert stops[0].headers["x-api-key"] == LIVEAVATAR_KEY


def test_a_keepalive_reaches_liveavatar(
    client: httpx.Client, api: Api, admin: Admin, owner: User, fake: FakeProvider, avatar: dict[str, Any]
) -> None:
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    assert client.post(f"/v1/sessions/{session_id}/keepalive", headers=owner.headers).status_code == 200
    [kept] = fake.calls("POST", "/v1/sessions/keep-alive")
    assert kept.body == {"session_id": session_row(admin, session_id)["provider_session_id"]}
    api.end_session(owner, session_id)


@pytest.mark.parametrize(
    ("answer", "status", "code", "provider_status"),
    [
        pytest.param(
            httpx.Response(401, json={"code": 401, "message": "Invalid API key"}),
            502,
            "provider_error",
            401,
            id="bad-key",
        ),
        pytest.param(
            httpx.Response(400, json={"code": 400, "message": "concurrent session limit reached"}),
            429,
            "provider_busy",
            429,
            id="concurrency",
        ),
        pytest.param(
            httpx.Response(503, text="upstream unavailable"), 502, "provider_unavailable", 503, id="5xx"
        ),
    ],
)
def test_a_refused_token_fails_the_start_and_keeps_the_reason(
    client: httpx.Client,
    admin: Admin,
    owner: User,
    fake: FakeProvider,
    avatar: dict[str, Any],
    answer: httpx.Response,
    status: int,
    code: str,
    provider_status: int,
) -> None:
    fake.on("POST", "/v1/sessions/token", answer)
    assert_start_fails(
        client,
        admin,
        owner,
        avatar["id"],
        status=status,
        code=code,
        provider="liveavatar",
        provider_status=provider_status,
        secret=LIVEAVATAR_KEY,
    )
    assert len(fake.calls("POST", "/v1/sessions/token")) == 1


async def test_listing_accepts_a_bare_list_and_skips_ended_sessions() -> None:
    fake = FakeProvider()
    fake.on(
        "GET",
        "/v1/sessions",
        httpx.Response(
            200,
            json={
                "code": 100,
                "data": [
                    {"session_id": "a", "status": "CONNECTED"},
                    {"session_id": "b", "status": "CLOSED"},
                    {"id": "c", "created_at": "2026-03-01T10:00:00"},
                ],
            },
        ),
    )
    live = await vendor(LiveAvatarProvider, fake).list_sessions()
    assert live is not None
    assert [(session.provider_session_id, session.status) for session in live] == [
        ("a", "CONNECTED"),
        ("c", None),
    ]
    assert live[1].created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert fake.calls("GET", "/v1/sessions")[0].params == {"type": "active", "page": "1", "page_size": "100"}


async def test_listing_reads_every_page() -> None:
    """The list is paginated (`page`, `page_size` ≤ 100, `next`): docs.liveavatar.com openapi.json."""
    fake = liveavatar_fake()
    fake.live.update({str(uuid.uuid4()): datetime.now(UTC) for _ in range(230)})
    live = await vendor(LiveAvatarProvider, fake).list_sessions()
    assert live is not None
    assert sorted(session.provider_session_id for session in live) == sorted(fake.live)
    assert [seen.params["page"] for seen in fake.calls("GET", "/v1/sessions")] == ["1", "2", "3"]


def test_server_speech_is_not_an_option_of_liveavatar(client: httpx.Client, owner: User) -> None:
    """LiveAvatar cannot speak from the backend: its typed options refuse the HeyGen-only `server_speech`."""
    response = client.post(
        "/v1/avatars",
        json={
            "name": "Ava",
            "provider": "liveavatar",
            "provider_avatar_id": AVATAR_UUID,
            "provider_options": {"mode": "LITE", "server_speech": True},
        },
        headers=owner.headers,
    )
    problem = assert_problem(response, 422, "invalid_provider_options")
    assert "server_speech" in problem["detail"]


@pytest.fixture
def full_fake(monkeypatch: pytest.MonkeyPatch, base_url: str) -> Iterator[FakeProvider]:
    """LiveAvatar FULL end to end: our public base URL set, so the provider gets our chat completions."""
    fake = liveavatar_fake()
    serve(monkeypatch, LiveAvatarProvider, fake)
    monkeypatch.setenv("PUBLIC_API_BASE", base_url)
    get_settings.cache_clear()
    yield fake
    monkeypatch.delenv("PUBLIC_API_BASE")
    get_settings.cache_clear()


def full_avatar(api: Api, owner: User, **fields: Any) -> dict[str, Any]:
    return api.create_avatar(
        owner,
        provider="liveavatar",
        provider_avatar_id=AVATAR_UUID,
        voice={"provider": "liveavatar", "voice_id": VOICE_UUID},
        provider_options={"mode": "FULL"},
        persona="You are Ava, the bakery's guide.",
        greeting="Welcome to the bakery!",
        language="en-GB",
        **fields,
    )


def callback(fake: FakeProvider) -> tuple[str, str]:
    """What LiveAvatar holds for the session: the LLM configuration's URL and the secret's value."""
    [config] = [body for (kind, _), body in fake.resources.items() if kind == "llm"]
    return config["base_url"] + "/v1/chat/completions", fake.resources[("secret", config["secret_id"])][
        "secret_value"
    ]


def test_a_full_session_is_called_back_where_liveavatar_calls_and_leaves_nothing_behind(
    api: Api, admin: Admin, owner: User, full_fake: FakeProvider
) -> None:
    avatar = full_avatar(api, owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    assert full_fake.kinds() == ["context", "llm", "secret"]
    [minted] = full_fake.calls("POST", "/v1/sessions/token")
    assert minted.body["avatar_persona"]["language"] == "en"
    url, token = callback(full_fake)
    assert url.endswith(f"/v1/sessions/{session_id}/v1/chat/completions")

    # The opening turn: LiveAvatar asks before anyone spoke, and gets the greeting.
    opening = httpx.post(
        url,
        json={"model": "m", "messages": [{"role": "system", "content": "Be brief."}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert opening.status_code == 200, opening.text
    assert opening.json()["choices"][0]["message"]["content"] == "Welcome to the bakery!"
    with httpx.stream(
        "POST",
        url,
        json={"model": "m", "stream": True, "messages": [{"role": "system", "content": "Be brief."}]},
        headers={"Authorization": f"Bearer {token}"},
    ) as streamed:
        lines = [line for line in streamed.iter_lines() if line.startswith("data:")]
    assert '"content":"Welcome to the bakery!"' in lines[0]
    assert lines[-1] == "data: [DONE]"

    answered = httpx.post(
        url,
        json={"model": "m", "messages": [{"role": "user", "content": "What can you do?"}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"]

    api.end_session(owner, session_id)
    assert full_fake.kinds() == []
    late = httpx.post(
        url,
        json={"model": "m", "messages": [{"role": "system", "content": "Be brief."}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    # The callback token dies with its session (tests/functional/test_session_callback_token.py).
    assert_problem(late, 401, "unauthorized")
    assert admin.execute(
        "select count(*) as n from private.provider_resources where session_id = %s", (session_id,)
    ).fetchone() == {"n": 0}


def test_each_full_session_gets_a_context_in_step_with_the_avatar(
    client: httpx.Client, api: Api, owner: User, full_fake: FakeProvider
) -> None:
    avatar = full_avatar(api, owner)
    first = api.start_session(owner, avatar["id"])["session_id"]
    api.end_session(owner, first)
    response = client.patch(
        f"/v1/avatars/{avatar['id']}",
        json={"persona": "You are Bo, the florist.", "greeting": ""},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    second = api.start_session(owner, avatar["id"])["session_id"]
    contexts = [seen.body for seen in full_fake.calls("POST", "/v1/contexts")]
    assert contexts == [
        {
            "name": f"avatar-studio-{first}",
            "prompt": "You are Ava, the bakery's guide.",
            "opening_text": "Welcome to the bakery!",
        },
        {"name": f"avatar-studio-{second}", "prompt": "You are Bo, the florist.", "opening_text": ""},
    ]
    api.end_session(owner, second)
    assert full_fake.kinds() == []


def test_a_delete_that_fails_when_the_session_ends_is_retried_by_the_cleanup(
    api: Api, admin: Admin, owner: User, full_fake: FakeProvider
) -> None:
    avatar = full_avatar(api, owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    working = full_fake.prefix_routes["DELETE"]
    full_fake.prefix_routes["DELETE"] = [(prefix, fake_timeout) for prefix, _ in working]
    api.end_session(owner, session_id)
    assert full_fake.kinds() == ["context", "llm", "secret"]
    [row] = admin.execute(
        "select resources from private.provider_resources where session_id = %s", (session_id,)
    ).fetchall()
    assert sorted(row["resources"]) == ["context_id", "llm_configuration_id", "secret_id"]

    full_fake.prefix_routes["DELETE"] = working
    sweep_on_a_new_loop()
    assert full_fake.kinds() == []
    assert admin.execute(
        "select count(*) as n from private.provider_resources where session_id = %s", (session_id,)
    ).fetchone() == {"n": 0}


def test_clients_cannot_see_provider_resources(
    api: Api, admin: Admin, owner: User, full_fake: FakeProvider
) -> None:
    avatar = full_avatar(api, owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    with admin.transaction():
        admin.execute("set local role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            admin.execute("select * from private.provider_resources")
    api.end_session(owner, session_id)


def test_an_avatars_elevenlabs_voice_is_imported_for_its_first_session_only(
    monkeypatch: pytest.MonkeyPatch, api: Api, admin: Admin, owner: User, full_fake: FakeProvider
) -> None:
    serve(monkeypatch, LiveAvatarProvider, full_fake, elevenlabs_api_key=ELEVENLABS_KEY)
    voice = f"el-{uuid.uuid4().hex[:12]}"
    avatar = full_avatar(api, owner)
    response = api.client.patch(
        f"/v1/avatars/{avatar['id']}",
        json={"voice": {"provider": "elevenlabs", "voice_id": voice}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    for _ in range(2):
        api.end_session(owner, api.start_session(owner, avatar["id"])["session_id"])
    [imported] = full_fake.calls("POST", "/v1/voices/third_party")
    assert imported.body["voice_id"] == voice
    tokens = full_fake.calls("POST", "/v1/sessions/token")
    voice_ids = {token.body["avatar_persona"]["voice_id"] for token in tokens}
    assert voice_ids == {
        admin.execute(
            "select asset_id from private.provider_assets where provider = 'liveavatar' and source_id = %s",
            (voice,),
        ).fetchone()["asset_id"]
    }
    # What stays at LiveAvatar is the imported voice and its ElevenLabs secret, nothing of the sessions.
    assert full_fake.kinds() == ["secret", "voice"]
