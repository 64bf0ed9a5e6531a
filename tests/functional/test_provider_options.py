"""Avatars' provider options are checked against the provider's typed options model."""

import httpx

from tests.conftest import User
from tests.functional.support import Api, assert_problem

LIVEAVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


def test_options_are_normalised_by_the_providers_model(api: Api, owner: User) -> None:
    avatar = api.create_avatar(
        owner,
        provider="liveavatar",
        provider_avatar_id=LIVEAVATAR,
        provider_options={"mode": "custom", "video_encoding": "H264"},
    )
    # LITE was called CUSTOM before; unset options stay unset.
    assert avatar["provider_options"] == {"mode": "LITE", "video_encoding": "H264"}
    heygen = api.create_avatar(owner, provider="heygen", provider_options={"emotion": "Soothing"})
    assert heygen["provider_options"] == {"emotion": "soothing"}


def test_an_option_the_provider_does_not_have_or_a_value_outside_its_enum_is_a_422(
    client: httpx.Client, owner: User
) -> None:
    for options, named in (({"mode": "HALF"}, "mode"), ({"model": "fasttalk"}, "model")):
        response = client.post(
            "/v1/avatars",
            json={"name": "Ava", "provider": "liveavatar", "provider_options": options},
            headers=owner.headers,
        )
        problem = assert_problem(response, 422, "invalid_provider_options")
        assert problem["detail"].startswith(f"liveavatar option {named}:")


def test_changing_provider_drops_the_old_providers_options_unless_new_ones_come(
    client: httpx.Client, api: Api, owner: User
) -> None:
    avatar = api.create_avatar(owner, provider="simli", provider_options={"model": "artalk"})
    url = f"/v1/avatars/{avatar['id']}"
    moved = client.patch(url, json={"provider": "tavus"}, headers=owner.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["provider_options"] == {}
    updated = client.patch(url, json={"provider_options": {"pal_id": "p-1"}}, headers=owner.headers)
    assert updated.json()["provider_options"] == {"pal_id": "p-1"}
    refused = client.patch(url, json={"provider_options": {"model": "artalk"}}, headers=owner.headers)
    assert_problem(refused, 422, "invalid_provider_options")
