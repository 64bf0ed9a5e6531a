"""An avatar's end-of-speech wait (the silence that ends a spoken question) through the API, RLS and the
widget token, which hands it to the visitor's voice input."""

from typing import Any

import httpx
import psycopg
import pytest

from functions.core.avatar_basics import END_OF_SPEECH_DEFAULT_MS
from tests.conftest import User, UserFactory
from tests.functional.support import Api, assert_problem
from tests.functional.test_widget_token import SITE, Widget


def test_the_wait_defaults_to_500_ms_and_is_set_and_changed(
    client: httpx.Client, api: Api, owner: User
) -> None:
    plain = api.create_avatar(owner)
    assert plain["end_of_speech_ms"] == 500
    patient = api.create_avatar(owner, end_of_speech_ms=1500)
    assert patient["end_of_speech_ms"] == 1500
    response = client.patch(
        f"/v1/avatars/{patient['id']}", json={"end_of_speech_ms": 400}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["end_of_speech_ms"] == 400
    response = client.patch(f"/v1/avatars/{patient['id']}", json={"name": "Renamed"}, headers=owner.headers)
    assert response.json()["end_of_speech_ms"] == 400
    listed = client.get("/v1/avatars", headers=owner.headers).json()
    assert {a["id"]: a["end_of_speech_ms"] for a in listed} == {plain["id"]: 500, patient["id"]: 400}


@pytest.mark.parametrize("wait", [199, 3001, 0, -700, "700", True, 700.5, None])
def test_a_wait_out_of_bounds_or_not_a_whole_number_is_refused(
    client: httpx.Client, api: Api, owner: User, wait: Any
) -> None:
    created = client.post(
        "/v1/avatars", json={"name": "Ava", "end_of_speech_ms": wait}, headers=owner.headers
    )
    assert_problem(created, 422, "invalid_request")
    avatar = api.create_avatar(owner, end_of_speech_ms=900)
    if wait is not None:  # null in a patch means "unchanged"
        patched = client.patch(
            f"/v1/avatars/{avatar['id']}", json={"end_of_speech_ms": wait}, headers=owner.headers
        )
        assert_problem(patched, 422, "invalid_request")
    assert client.get(f"/v1/avatars/{avatar['id']}", headers=owner.headers).json()["end_of_speech_ms"] == 900


def test_the_bounds_themselves_are_accepted(api: Api, owner: User) -> None:
    assert api.create_avatar(owner, end_of_speech_ms=200)["end_of_speech_ms"] == 200
    assert api.create_avatar(owner, end_of_speech_ms=3000)["end_of_speech_ms"] == 3000


def test_another_user_can_neither_read_nor_change_the_wait(
    client: httpx.Client, api: Api, owner: User, make_user: UserFactory
) -> None:
    avatar = api.create_avatar(owner, end_of_speech_ms=1200)
    stranger = make_user()
    assert_problem(client.get(f"/v1/avatars/{avatar['id']}", headers=stranger.headers), 404)
    response = client.patch(
        f"/v1/avatars/{avatar['id']}", json={"end_of_speech_ms": 200}, headers=stranger.headers
    )
    assert_problem(response, 404)
    assert client.get(f"/v1/avatars/{avatar['id']}", headers=owner.headers).json()["end_of_speech_ms"] == 1200


def test_the_widget_token_hands_the_wait_to_the_visitor(client: httpx.Client, api: Api, owner: User) -> None:
    avatar = api.create_avatar(owner, allowed_origins=[SITE], end_of_speech_ms=1100)
    assert Widget(client).token(avatar["public_id"])["avatar"]["end_of_speech_ms"] == 1100


def test_one_default_the_config_publishes_and_the_database_shares(
    client: httpx.Client, admin: psycopg.Connection[dict[str, object]], owner: User
) -> None:
    """The web client fills a new avatar's field from /v1/config; a row inserted without the column (SQL,
    not the API) gets the same wait."""
    config = client.get("/v1/config").json()
    assert config["hands_free"] == {"end_of_speech_default_ms": END_OF_SPEECH_DEFAULT_MS}
    row = admin.execute(
        "insert into public.avatars (owner_id, name) values (%s, 'Plain') returning end_of_speech_ms",
        (owner.id,),
    ).fetchone()
    assert row == {"end_of_speech_ms": END_OF_SPEECH_DEFAULT_MS}
