import httpx

from tests.conftest import UserFactory


def test_health_reports_the_database_ok(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_an_owner_creates_an_avatar_and_sees_it(client: httpx.Client, make_user: UserFactory) -> None:
    owner = make_user()
    created = client.post("/v1/avatars", json={"name": "Ava"}, headers=owner.headers)
    assert created.status_code == 201
    listed = client.get("/v1/avatars", headers=owner.headers).json()
    assert [avatar["id"] for avatar in listed] == [created.json()["id"]]
