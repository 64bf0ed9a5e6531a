"""An avatar's look (illustrated character and theme colour) through the API, RLS and the widget token."""

from typing import Any

import httpx
import pytest

from tests.conftest import User, UserFactory
from tests.functional.support import Api, assert_problem


def test_the_look_defaults_is_chosen_and_changed(client: httpx.Client, api: Api, owner: User) -> None:
    plain = api.create_avatar(owner)
    assert plain["appearance"] == {"look": "ada", "theme": "#2563eb"}
    chosen = api.create_avatar(owner, appearance={"look": "noor", "theme": "#0f766e"})
    assert chosen["appearance"] == {"look": "noor", "theme": "#0f766e"}
    response = client.patch(
        f"/v1/avatars/{chosen['id']}",
        json={"appearance": {"look": "kai", "theme": "#b45309"}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["appearance"] == {"look": "kai", "theme": "#b45309"}
    listed = client.get("/v1/avatars", headers=owner.headers).json()
    assert {a["id"]: a["appearance"]["look"] for a in listed} == {plain["id"]: "ada", chosen["id"]: "kai"}


@pytest.mark.parametrize(
    "appearance",
    [{"look": "robot"}, {"theme": "blue"}, {"theme": "#12345"}, {"look": "ada", "hat": "top"}],
)
def test_unknown_looks_and_colours_are_refused(
    client: httpx.Client, owner: User, appearance: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/avatars", json={"name": "Ava", "appearance": appearance}, headers=owner.headers
    )
    assert_problem(response, 422, "invalid_request")


def test_another_user_cannot_change_the_look(
    client: httpx.Client, api: Api, owner: User, make_user: UserFactory
) -> None:
    avatar = api.create_avatar(owner, appearance={"look": "noor", "theme": "#0f766e"})
    stranger = make_user()
    response = client.patch(
        f"/v1/avatars/{avatar['id']}",
        json={"appearance": {"look": "kai", "theme": "#000000"}},
        headers=stranger.headers,
    )
    assert_problem(response, 404)
    assert (
        client.get(f"/v1/avatars/{avatar['id']}", headers=owner.headers).json()["appearance"]["look"]
        == "noor"
    )
