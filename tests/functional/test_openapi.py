"""The OpenAPI document is valid and complete, and the API keeps to it: a schemathesis run with every
check on (tests/schemathesis.toml), plus the answers outside any operation (CORS preflight, OPTIONS)."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import User
from tests.functional.support import Api, assert_problem

Admin = psycopg.Connection[Any]
SCHEMATHESIS_CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
PROBLEM = "application/problem+json"
# Examples per operation: enough to reach every operation's edges, bounded so the suite stays quick.
MAX_EXAMPLES = 25
SEED = 20261129


@pytest.fixture(scope="module")
def document(base_url: str) -> dict[str, Any]:
    spec: dict[str, Any] = httpx.get(f"{base_url}/openapi.json").json()
    return spec


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert "#/components/schemas/Problem" in refs
    for ref in refs:
        assert _resolve(document, ref) is not None, ref
    turn = document["paths"]["/v1/sessions/{session_id}/turns"]["post"]["requestBody"]["content"]
    assert turn["application/json"]["schema"]["required"] == ["turn_id", "text"]


def test_every_operation_documents_its_problems_as_problem_json(document: dict[str, Any]) -> None:
    missing: list[str] = []
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        expected = {"413", "422"}
        if operation.get("security"):
            expected |= {"401", "403", "404"}
        if "requestBody" in operation:
            expected.add("400")
        missing += [f"{method} {path} {status}" for status in expected - responses.keys()]
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM], (method, path, status)
    assert missing == []
    statuses = {status for _, _, op in _operations(document) for status in op["responses"]}
    assert {"401", "403", "404", "409", "413", "422", "429"} <= statuses
    schemes = document["components"]["securitySchemes"]
    assert {name: scheme["scheme"] for name, scheme in schemes.items()} == {
        "AccessToken": "bearer",
        "AvatarApiKey": "bearer",
        "SessionCallbackToken": "bearer",
    }


def test_a_refused_cors_preflight_is_a_problem(client: httpx.Client) -> None:
    response = client.options(
        "/v1/avatars", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert "evil.example" in assert_problem(response, 403, "origin_not_allowed")["detail"]
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/avatars", "GET, POST"),
        ("PUT", "/v1/avatars", "GET, POST"),
        ("OPTIONS", "/v1/sessions/00000000-0000-4000-8000-000000000000", "GET"),
        ("DELETE", "/v1/tts", "POST"),
        ("OPTIONS", "/health", "GET"),
    ],
)
def test_a_wrong_method_on_an_api_path_is_the_apis_405_listing_every_method(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow


def test_an_unknown_api_path_is_a_problem_not_the_web_client(client: httpx.Client) -> None:
    for method in ("GET", "OPTIONS", "POST"):
        assert_problem(client.request(method, "/v1/no-such-route"), 404, "not_found")


@pytest.mark.parametrize("text", [" ", "\t\n", "\u00a0 \u3000", "\u0085", "\ufeff"])
def test_a_blank_question_is_refused_and_not_stored(
    client: httpx.Client, api: Api, admin: Admin, owner: User, text: str
) -> None:
    avatar = api.create_avatar(owner)
    session_id = api.start_session(owner, avatar["id"])["session_id"]
    response = client.post(
        f"/v1/sessions/{session_id}/turns", json={"turn_id": "t-1", "text": text}, headers=owner.headers
    )
    assert assert_problem(response, 422, "invalid_request")["detail"].startswith("text: ")
    stored = admin.execute(
        "select count(*) as n from public.streaming_messages where session_id = %s", (session_id,)
    ).fetchone()
    assert stored == {"n": 0}


def test_schemathesis_with_every_check_passes(
    tmp_path: Path, base_url: str, client: httpx.Client, api: Api, owner: User
) -> None:
    avatar = api.create_avatar(owner)
    key = client.post(f"/v1/avatars/{avatar['id']}/api-keys", json={"name": "st"}, headers=owner.headers)
    assert key.status_code == 201, key.text
    # The run's own configuration: the committed one, plus the avatar API key for the route that takes it.
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        SCHEMATHESIS_CONFIG.read_text()
        + "\n[[operations]]\n"
        + 'include-name = "POST /v1/chat/completions"\n'
        + f'headers = {{ Authorization = "Bearer {key.json()["key"]}" }}\n'
    )
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        # A loaded 2-core machine answers an offline turn (local embedding, retrieval, answer) slowly.
        "--request-timeout",
        "60",
        "--header",
        f"Authorization: Bearer {owner.token}",
        "--no-color",
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20000:]
    assert "Authentication failed" not in report
    summary = re.search(r"(\d+) generated, (\d+) passed", report)
    assert summary is not None, report[-5000:]
    assert summary.group(1) == summary.group(2)
    assert int(summary.group(1)) > 500
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    assert selected is not None
    assert (
        selected.group(1)
        == selected.group(2)
        == str(len(_operations(httpx.get(f"{base_url}/openapi.json").json())))
    )
