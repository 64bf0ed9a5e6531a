"""Bad input over real HTTP: every refusal is a problem JSON {status, code, detail}, never a stack trace."""

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from functions.core.auth.tokens import sign_local_token
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem

MAX_BODY_BYTES = 1_048_576


def _no_traceback(response: httpx.Response) -> None:
    response.read()
    assert "Traceback" not in response.text, response.text
    assert 'File "' not in response.text, response.text


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """The test client, failing any response whose body carries a Python traceback."""
    with httpx.Client(base_url=base_url, timeout=30, event_hooks={"response": [_no_traceback]}) as http:
        yield http


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(owner)


@pytest.fixture
def session_id(api: Api, owner: User, avatar: dict[str, Any]) -> str:
    session_id: str = api.start_session(owner, avatar["id"])["session_id"]
    return session_id


def test_the_body_limit_is_the_documented_default() -> None:
    assert get_settings().max_body_bytes == MAX_BODY_BYTES


# --- unknown fields and wrong types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/v1/avatars", {"name": "Ava", "colour": "red"}, "colour"),
        ("/v1/avatars", {"name": "Ava", "owner_id": str(uuid.uuid4())}, "owner_id"),
        ("/v1/avatars", {"name": "Ava", "voice": {"provider": "local", "pitch": 2}}, "voice.pitch"),
        ("/v1/sessions", {"avatar_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())}, "user_id"),
    ],
    ids=["avatar-colour", "avatar-owner_id", "nested-voice-field", "session-user_id"],
)
def test_an_unknown_field_is_refused_with_a_422_problem(
    client: httpx.Client, owner: User, path: str, payload: dict[str, Any], field: str
) -> None:
    problem = assert_problem(client.post(path, json=payload, headers=owner.headers), 422, "invalid_request")
    assert set(problem) == {"status", "code", "detail", "errors"}
    assert f"{field}: Extra inputs are not permitted" in problem["detail"]
    assert problem["errors"] == [problem["detail"]]


def test_an_unknown_field_in_a_patch_is_refused(
    client: httpx.Client, owner: User, avatar: dict[str, Any]
) -> None:
    response = client.patch(f"/v1/avatars/{avatar['id']}", json={"nickname": "A"}, headers=owner.headers)
    assert "nickname" in assert_problem(response, 422, "invalid_request")["detail"]


def test_an_unknown_field_in_an_event_or_end_is_refused(
    client: httpx.Client, owner: User, session_id: str
) -> None:
    event = client.post(
        f"/v1/sessions/{session_id}/events", json={"type": "idle", "at": 1}, headers=owner.headers
    )
    assert_problem(event, 422, "invalid_request")
    end = client.post(
        f"/v1/sessions/{session_id}/end", json={"reason": "done", "force": True}, headers=owner.headers
    )
    assert_problem(end, 422, "invalid_request")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": 123}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Ava", "max_session_seconds": "long"}, "max_session_seconds"),
        ({"name": "Ava", "max_session_seconds": 5}, "max_session_seconds"),
        ({"name": "Ava", "grounded_only": "perhaps"}, "grounded_only"),
        ({"name": "Ava", "allowed_origins": "https://example.com"}, "allowed_origins"),
        ({"name": "Ava", "quality": "ultra"}, "quality"),
        ({"name": "Ava", "provider": "acme"}, "provider"),
        ({"name": "Ava", "language": "english!"}, "language"),
        ({"name": "Ava", "voice": "alloy"}, "voice"),
    ],
)
def test_a_wrong_type_for_an_avatar_field_is_a_422_problem(
    client: httpx.Client, owner: User, payload: dict[str, Any], field: str
) -> None:
    problem = assert_problem(
        client.post("/v1/avatars", json=payload, headers=owner.headers), 422, "invalid_request"
    )
    assert problem["detail"].startswith(f"{field}: ")


def test_a_body_that_is_not_an_object_is_a_422_problem(client: httpx.Client, owner: User) -> None:
    assert_problem(client.post("/v1/avatars", json=["Ava"], headers=owner.headers), 422, "invalid_request")
    assert_problem(client.post("/v1/avatars", json="Ava", headers=owner.headers), 422, "invalid_request")


def test_a_body_that_is_not_json_is_a_422_problem(client: httpx.Client, owner: User) -> None:
    response = client.post(
        "/v1/avatars",
        content=b'{"name": "Ava",',
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert "JSON decode error" in assert_problem(response, 422, "invalid_request")["detail"]


def test_a_missing_body_is_a_422_problem(client: httpx.Client, owner: User) -> None:
    problem = assert_problem(client.post("/v1/avatars", headers=owner.headers), 422, "invalid_request")
    assert "Field required" in problem["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "dancing"},
        {"type": "idle", "data": [1, 2]},
        {"type": None},
        {},
    ],
)
def test_a_wrong_client_event_is_a_422_problem_and_is_not_recorded(
    client: httpx.Client, owner: User, session_id: str, payload: dict[str, Any]
) -> None:
    response = client.post(f"/v1/sessions/{session_id}/events", json=payload, headers=owner.headers)
    assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize("reason", ["DROP TABLE sessions;", "", "x" * 201, 42])
def test_a_wrong_end_reason_is_a_422_problem(
    client: httpx.Client, owner: User, session_id: str, reason: object
) -> None:
    response = client.post(f"/v1/sessions/{session_id}/end", json={"reason": reason}, headers=owner.headers)
    assert_problem(response, 422, "invalid_request")
    assert client.get(f"/v1/sessions/{session_id}", headers=owner.headers).json()["status"] == "active"


def test_a_wrong_session_quality_is_a_422_problem(
    client: httpx.Client, owner: User, avatar: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/sessions", json={"avatar_id": avatar["id"], "quality": "8k"}, headers=owner.headers
    )
    assert assert_problem(response, 422, "invalid_request")["detail"].startswith("quality: ")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "c" * 201}])
def test_wrong_list_parameters_are_a_422_problem(
    client: httpx.Client, owner: User, params: dict[str, Any]
) -> None:
    response = client.get("/v1/sessions", params=params, headers=owner.headers)
    problem = assert_problem(response, 422, "invalid_request")
    assert problem["detail"].startswith("query.")


# --- malformed ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/sessions/not-a-uuid"),
        ("POST", "/v1/sessions/123/end"),
        ("POST", "/v1/sessions/123/keepalive"),
        ("GET", "/v1/sessions/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/messages"),
        ("GET", "/v1/avatars/avatar-1"),
        ("PATCH", "/v1/avatars/1"),
        ("DELETE", "/v1/avatars/%27%20or%201%3D1"),
    ],
)
def test_a_malformed_id_in_the_path_is_a_422_problem(
    client: httpx.Client, owner: User, method: str, path: str
) -> None:
    response = client.request(method, path, json={} if method == "PATCH" else None, headers=owner.headers)
    assert assert_problem(response, 422, "invalid_request")["detail"].startswith("path.")


@pytest.mark.parametrize("avatar_id", ["abc", 12, "", None, str(uuid.uuid4()) + "0"])
def test_a_malformed_avatar_id_in_a_start_is_a_422_problem(
    client: httpx.Client, owner: User, avatar_id: object
) -> None:
    response = client.post("/v1/sessions", json={"avatar_id": avatar_id}, headers=owner.headers)
    assert assert_problem(response, 422, "invalid_request")["detail"].startswith("avatar_id: ")


# --- oversized bodies ------------------------------------------------------------------------------


def _oversized_avatar() -> bytes:
    return b'{"name": "Ava", "persona": "' + b"x" * MAX_BODY_BYTES + b'"}'


def test_a_body_declared_larger_than_the_limit_is_a_413_problem(client: httpx.Client, owner: User) -> None:
    body = _oversized_avatar()
    response = client.post(
        "/v1/avatars", content=body, headers={**owner.headers, "content-type": "application/json"}
    )
    problem = assert_problem(response, 413, "payload_too_large")
    assert str(MAX_BODY_BYTES) in problem["detail"]
    assert client.get("/v1/avatars", headers=owner.headers).json() == []


def test_a_body_over_the_limit_is_refused_before_authentication(client: httpx.Client) -> None:
    response = client.post(
        "/v1/avatars", content=_oversized_avatar(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")


def test_a_streamed_body_over_the_limit_is_a_413_problem(client: httpx.Client, owner: User) -> None:
    def chunks() -> Iterator[bytes]:
        body = _oversized_avatar()
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post(
        "/v1/avatars", content=chunks(), headers={**owner.headers, "content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    assert client.get("/v1/avatars", headers=owner.headers).json() == []


def test_a_body_just_under_the_limit_is_read(client: httpx.Client, owner: User) -> None:
    body = b'{"name": "Ava", "persona": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    response = client.post(
        "/v1/avatars", content=body, headers={**owner.headers, "content-type": "application/json"}
    )
    problem = assert_problem(response, 422, "invalid_request")
    assert problem["detail"].startswith("persona: ")


# --- authentication --------------------------------------------------------------------------------


def _assert_unauthorized(response: httpx.Response) -> dict[str, Any]:
    problem = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    return problem


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Token abc"],
    ids=["missing", "empty", "bearer-only", "basic", "other-scheme"],
)
def test_a_request_without_a_bearer_token_is_a_401_problem(
    client: httpx.Client, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    problem = _assert_unauthorized(client.get("/v1/avatars", headers=headers))
    assert "Bearer" in problem["detail"]


def test_a_malformed_bearer_token_is_a_401_problem(client: httpx.Client) -> None:
    response = client.get("/v1/sessions", headers={"authorization": "Bearer not-a-jwt"})
    assert "malformed" in _assert_unauthorized(response)["detail"]


def test_a_token_signed_with_another_secret_is_a_401_problem(client: httpx.Client) -> None:
    token = sign_local_token("another-secret-" + "x" * 40, uuid.uuid4(), "mallory@example.test")
    response = client.get("/v1/usage", headers={"authorization": f"Bearer {token}"})
    assert "signature" in _assert_unauthorized(response)["detail"]


def test_an_expired_token_is_a_401_problem(client: httpx.Client, owner: User) -> None:
    secret = get_settings().hs256_secret()
    assert secret is not None
    token = sign_local_token(secret, owner.id, owner.email, ttl_seconds=-60)
    response = client.post("/v1/sessions", json={}, headers={"authorization": f"Bearer {token}"})
    assert "expired" in _assert_unauthorized(response)["detail"]


# The operations anyone may call: health, the client's configuration, the widget's token and look, and the
# local-mode stand-ins for the hosted sign-in and storage. Every other operation needs a token.
PUBLIC_OPERATIONS = {
    ("GET", "/health"),
    ("GET", "/v1/config"),
    ("POST", "/v1/widget/token"),
    ("GET", "/v1/widget/look/{public_id}"),
    ("POST", "/v1/dev/login"),
    ("POST", "/v1/dev/uploads"),
}


def _operations(client: httpx.Client) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the served app's OpenAPI document, by (method, path template)."""
    paths: dict[str, dict[str, dict[str, Any]]] = client.get("/openapi.json").json()["paths"]
    return {
        (method.upper(), path): operation
        for path, item in paths.items()
        for method, operation in item.items()
    }


def test_the_public_operations_are_exactly_those_that_declare_no_token(client: httpx.Client) -> None:
    operations = _operations(client)
    assert len(operations) > 30
    declared_public = {key for key, operation in operations.items() if not operation.get("security")}
    assert declared_public == PUBLIC_OPERATIONS


def test_every_api_route_requires_a_token(client: httpx.Client) -> None:
    """Derived from the app: each operation it publishes, but the public ones, answers 401 without a token."""
    operations = _operations(client)
    guarded = sorted(set(operations) - PUBLIC_OPERATIONS)
    let_through = {}
    for method, template in guarded:
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
        response = client.request(method, path)
        if response.status_code != 401:
            let_through[(method, template)] = response.status_code
            continue
        schemes = {name for requirement in operations[(method, template)]["security"] for name in requirement}
        # The OpenAI-compatible route takes an avatar's API key, and its problem says so.
        code = "invalid_api_key" if schemes == {"AvatarApiKey"} else "unauthorized"
        assert_problem(response, 401, code)
        assert response.headers["www-authenticate"] == "Bearer"
    assert let_through == {}
    assert len(guarded) >= 40


# --- unknown routes --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v2/sessions", "/v1/sessions/a/b/c", "/.env"])
def test_an_unknown_route_is_a_404_problem(client: httpx.Client, owner: User, path: str) -> None:
    assert_problem(client.get(path, headers=owner.headers), 404, "not_found")
    assert_problem(client.get(path), 404, "not_found")


def test_a_wrong_method_is_a_405_problem(client: httpx.Client, owner: User) -> None:
    response = client.delete("/v1/sessions", headers=owner.headers)
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
