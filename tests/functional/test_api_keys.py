"""Avatar API keys: created and shown once, stored as a hash, listed without the key, revoked at once."""

import asyncio
import hashlib
import re
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import APIRouter

from functions.core.api.app import create_app
from functions.core.api.deps import ApiKeyUser
from functions.core.auth.api_keys import InvalidApiKey, principal_for_api_key
from functions.core.auth.tokens import Principal
from functions.core.db.pool import get_database
from tests.conftest import User
from tests.functional.support import Api, assert_problem

Admin = psycopg.Connection[Any]


def resolve(key: str) -> Principal:
    """principal_for_api_key on an event loop of its own, closing the loop's pool after."""

    async def run() -> Principal:
        db = get_database()
        try:
            return await principal_for_api_key(db, key)
        finally:
            await db.close()

    return asyncio.run(run())


def create_key(client: httpx.Client, user: User, avatar_id: str, name: str = "Tavus") -> dict[str, Any]:
    response = client.post(f"/v1/avatars/{avatar_id}/api-keys", json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(owner)


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(
    client: httpx.Client, owner: User, avatar: dict[str, Any], admin: Admin
) -> None:
    created = create_key(client, owner, avatar["id"])
    assert set(created) == {"id", "name", "key", "key_prefix", "created_at"}
    assert re.fullmatch(r"sk-avs-[A-Za-z0-9_-]{40}", created["key"])
    assert created["key_prefix"] == created["key"][:12]
    assert created["name"] == "Tavus"

    row = admin.execute("select * from public.avatar_api_keys where id = %s", (created["id"],)).fetchone()
    assert row is not None
    assert row["key_hash"] == hashlib.sha256(created["key"].encode()).hexdigest()
    assert row["key_prefix"] == created["key_prefix"]
    assert row["owner_id"] == owner.id
    assert str(row["avatar_id"]) == avatar["id"]
    assert created["key"] not in {str(value) for value in row.values()}

    listed = client.get(f"/v1/avatars/{avatar['id']}/api-keys", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {
            "id": created["id"],
            "name": "Tavus",
            "key_prefix": created["key_prefix"],
            "created_at": created["created_at"],
            "last_used_at": None,
            "revoked_at": None,
        }
    ]
    assert created["key"] not in listed.text


def test_keys_are_listed_newest_first_and_each_key_is_different(
    client: httpx.Client, owner: User, avatar: dict[str, Any]
) -> None:
    first = create_key(client, owner, avatar["id"], "first")
    second = create_key(client, owner, avatar["id"], "second")
    assert first["key"] != second["key"]
    listed = client.get(f"/v1/avatars/{avatar['id']}/api-keys", headers=owner.headers).json()
    assert [key["name"] for key in listed] == ["second", "first"]


def test_a_live_key_resolves_to_its_owner_bound_to_the_avatar(
    client: httpx.Client, owner: User, avatar: dict[str, Any], admin: Admin
) -> None:
    created = create_key(client, owner, avatar["id"])
    principal = resolve(created["key"])
    assert principal.user_id == owner.id
    assert str(principal.avatar_id) == avatar["id"]
    assert str(principal.api_key_id) == created["id"]
    assert not principal.is_visitor
    assert principal.claims == {
        "sub": str(owner.id),
        "role": "authenticated",
        "aud": "authenticated",
        "avatar_id": avatar["id"],
    }
    used = admin.execute("select last_used_at from public.avatar_api_keys where id = %s", (created["id"],))
    row = used.fetchone()
    assert row is not None
    assert row["last_used_at"] is not None


def test_a_revoked_key_stops_working_at_once(
    client: httpx.Client, owner: User, avatar: dict[str, Any], admin: Admin
) -> None:
    created = create_key(client, owner, avatar["id"])
    resolve(created["key"])
    path = f"/v1/avatars/{avatar['id']}/api-keys/{created['id']}"
    revoked = client.delete(path, headers=owner.headers)
    assert revoked.status_code == 204, revoked.text
    with pytest.raises(InvalidApiKey) as caught:
        resolve(created["key"])
    assert caught.value.status == 401
    assert caught.value.code == "invalid_api_key"

    first_revoked_at = client.get(f"/v1/avatars/{avatar['id']}/api-keys", headers=owner.headers).json()[0]
    assert first_revoked_at["revoked_at"] is not None
    assert client.delete(path, headers=owner.headers).status_code == 204
    again = client.get(f"/v1/avatars/{avatar['id']}/api-keys", headers=owner.headers).json()[0]
    assert again["revoked_at"] == first_revoked_at["revoked_at"]


@pytest.mark.parametrize("key", ["sk-avs-" + "a" * 40, "sk-other-key", "", "Bearer sk-avs-x"])
def test_an_unknown_or_malformed_key_is_refused(database_url: str, key: str) -> None:
    with pytest.raises(InvalidApiKey) as caught:
        resolve(key)
    assert caught.value.status == 401


def test_another_owners_avatar_keys_are_not_found(
    client: httpx.Client, owner: User, stranger: User, avatar: dict[str, Any]
) -> None:
    created = create_key(client, owner, avatar["id"])
    base = f"/v1/avatars/{avatar['id']}/api-keys"
    assert_problem(client.post(base, json={"name": "mine"}, headers=stranger.headers), 404, "not_found")
    assert_problem(client.get(base, headers=stranger.headers), 404, "not_found")
    assert_problem(client.delete(f"{base}/{created['id']}", headers=stranger.headers), 404, "not_found")
    assert resolve(created["key"]).user_id == owner.id


def test_a_key_is_revoked_only_through_its_own_avatar(
    client: httpx.Client, api: Api, owner: User, avatar: dict[str, Any]
) -> None:
    created = create_key(client, owner, avatar["id"])
    other = api.create_avatar(owner, name="Bea")
    response = client.delete(f"/v1/avatars/{other['id']}/api-keys/{created['id']}", headers=owner.headers)
    assert_problem(response, 404, "not_found")
    missing = client.delete(f"/v1/avatars/{avatar['id']}/api-keys/{uuid.uuid4()}", headers=owner.headers)
    assert_problem(missing, 404, "not_found")
    assert resolve(created["key"]).api_key_id == uuid.UUID(created["id"])


def test_key_names_are_limited(client: httpx.Client, owner: User, avatar: dict[str, Any]) -> None:
    response = client.post(
        f"/v1/avatars/{avatar['id']}/api-keys", json={"name": "x" * 121}, headers=owner.headers
    )
    assert_problem(response, 422, "invalid_request")


def test_the_api_key_dependency_admits_live_keys_only(
    database_url: str, client: httpx.Client, owner: User, avatar: dict[str, Any]
) -> None:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(caller: ApiKeyUser) -> dict[str, str]:
        return {"user_id": str(caller.user_id), "avatar_id": str(caller.avatar_id)}

    app = create_app([router])
    created = create_key(client, owner, avatar["id"])

    def call(authorization: str | None) -> httpx.Response:
        async def run() -> httpx.Response:
            try:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
                    headers = {} if authorization is None else {"authorization": authorization}
                    return await http.get("/whoami", headers=headers)
            finally:
                await get_database().close()

        return asyncio.run(run())

    admitted = call(f"Bearer {created['key']}")
    assert admitted.status_code == 200, admitted.text
    assert admitted.json() == {"user_id": str(owner.id), "avatar_id": avatar["id"]}
    for authorization in (None, "Bearer ", owner.headers["authorization"], "Basic abc"):
        refused = assert_problem(call(authorization), 401, "invalid_api_key")
        assert "sk-avs-" in refused["detail"]
    client.delete(f"/v1/avatars/{avatar['id']}/api-keys/{created['id']}", headers=owner.headers)
    assert_problem(call(f"Bearer {created['key']}"), 401, "invalid_api_key")
