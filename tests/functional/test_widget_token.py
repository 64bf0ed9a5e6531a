"""Widget visitor tokens over real HTTP and Postgres: origins, rate limits, visitors as users of their own."""

import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from functions.core.api import deps
from functions.core.auth.tokens import WIDGET_ISSUER
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem

Admin = psycopg.Connection[Any]

SITE = "https://shop.example.com"


def client_ip() -> str:
    """A made-up client address per caller, so the per-IP limit of one test does not reach another: uvicorn
    takes X-Forwarded-For from the test client because the test server declares 127.0.0.1 a proxy."""
    part = uuid.uuid4().hex
    return f"2001:db8:{part[:4]}:{part[4:8]}:{part[8:12]}::1"


class Widget:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.ip = client_ip()

    def request(self, public_id: str, origin: str | None = SITE, **body: Any) -> httpx.Response:
        headers = {"x-forwarded-for": self.ip}
        if origin is not None:
            headers["origin"] = origin
        return self.client.post(
            "/v1/widget/token", json={"avatar_public_id": public_id, **body}, headers=headers
        )

    def token(self, public_id: str, **body: Any) -> dict[str, Any]:
        response = self.request(public_id, **body)
        assert response.status_code == 201, response.text
        issued: dict[str, Any] = response.json()
        return issued


def visitor_headers(token: str, origin: str = SITE) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "origin": origin}


@pytest.fixture
def widget(client: httpx.Client) -> Widget:
    return Widget(client)


@pytest.fixture
def avatar(api: Api, owner: User) -> dict[str, Any]:
    return api.create_avatar(
        owner, name="Shop helper", greeting="Hello shopper", allowed_origins=[SITE, "http://localhost:5173"]
    )


class Clock:
    """The clock the app reckons rate-limit windows on, set by the test: 10 s into a one-minute window."""

    def __init__(self) -> None:
        self.now = 1_800_000_010.0

    def __call__(self) -> float:
        return self.now


def limit_widget_tokens(monkeypatch: pytest.MonkeyPatch, **limits: int) -> Clock:
    """Serves the app with smaller widget-token limits, and rate-limit windows on the returned clock."""
    settings = get_settings().model_copy(update=limits)
    monkeypatch.setattr(deps, "get_settings", lambda: settings)
    clock = Clock()
    monkeypatch.setattr(deps, "wall_clock", clock)
    return clock


# --- issuing ---------------------------------------------------------------------------------------


def test_an_allowed_origin_gets_a_visitor_token_bound_to_the_avatar(
    widget: Widget, avatar: dict[str, Any], admin: Admin
) -> None:
    response = widget.request(avatar["public_id"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["avatar"] == {
        "id": avatar["id"],
        "public_id": avatar["public_id"],
        "name": "Shop helper",
        "greeting": "Hello shopper",
        "provider": "local",
        "language": "en",
        "appearance": {"look": "ada", "theme": "#2563eb"},
        "end_of_speech_ms": 500,
        "contact_form": False,
    }
    claims = jwt.decode(
        body["token"], get_settings().widget_secret(), algorithms=["HS256"], audience="authenticated"
    )
    assert claims["sub"] == body["visitor_id"]
    assert claims["iss"] == WIDGET_ISSUER
    assert claims["role"] == "authenticated"
    assert claims["avatar_id"] == avatar["id"]
    assert claims["origin"] == SITE
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert claims["exp"] == int(expires_at.timestamp())
    assert claims["exp"] - time.time() == pytest.approx(get_settings().widget_token_ttl_seconds, abs=5)
    visitor = admin.execute(
        "select avatar_id::text as avatar_id from public.widget_visitors where id = %s", (body["visitor_id"],)
    ).fetchone()
    assert visitor == {"avatar_id": avatar["id"]}
    # Visitors are ours alone: GoTrue's auth.users never sees them.
    assert admin.execute("select 1 from auth.users where id = %s", (body["visitor_id"],)).fetchone() is None


def test_the_origin_is_compared_as_the_avatar_stores_it(widget: Widget, avatar: dict[str, Any]) -> None:
    issued = widget.token(avatar["public_id"], origin="HTTPS://Shop.Example.com")
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    assert claims["origin"] == SITE


def test_a_disallowed_origin_is_refused_with_a_reason_naming_it(
    widget: Widget, avatar: dict[str, Any]
) -> None:
    problem = assert_problem(
        widget.request(avatar["public_id"], origin="https://evil.example.net"), 403, "origin_not_allowed"
    )
    assert "https://evil.example.net" in problem["detail"]
    assert "studio" in problem["detail"]


@pytest.mark.parametrize("origin", ["null", "https://shop.example.com.evil.net", "http://shop.example.com"])
def test_lookalike_and_opaque_origins_are_refused(
    widget: Widget, avatar: dict[str, Any], origin: str
) -> None:
    problem = assert_problem(widget.request(avatar["public_id"], origin=origin), 403, "origin_not_allowed")
    assert origin in problem["detail"]


def test_a_request_without_an_origin_is_refused(widget: Widget, avatar: dict[str, Any]) -> None:
    problem = assert_problem(widget.request(avatar["public_id"], origin=None), 403, "origin_not_allowed")
    assert "no Origin header" in problem["detail"]


def test_an_avatar_without_allowed_origins_refuses_every_origin(
    widget: Widget, api: Api, owner: User
) -> None:
    closed = api.create_avatar(owner)
    assert_problem(widget.request(closed["public_id"]), 403, "origin_not_allowed")


def test_an_unknown_public_id_is_not_found(widget: Widget) -> None:
    assert_problem(widget.request("av_doesnotexist0000000"), 404, "not_found")


# --- rate limits -------------------------------------------------------------------------------------


def test_tokens_are_rate_limited_per_client_address(
    widget: Widget, client: httpx.Client, avatar: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = limit_widget_tokens(monkeypatch, widget_tokens_per_ip_per_minute=3)
    for _ in range(3):
        widget.token(avatar["public_id"])
    clock.now += 49
    refused = widget.request(avatar["public_id"])
    problem = assert_problem(refused, 429, "rate_limited")
    assert "address" in problem["detail"]
    assert refused.headers["retry-after"] == "1"
    assert Widget(client).request(avatar["public_id"]).status_code == 201
    clock.now += 1
    assert widget.request(avatar["public_id"]).status_code == 201, "the next minute did not start afresh"


def test_tokens_are_rate_limited_per_avatar(
    client: httpx.Client, api: Api, owner: User, avatar: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = limit_widget_tokens(monkeypatch, widget_tokens_per_avatar_per_minute=2)
    for _ in range(2):
        Widget(client).token(avatar["public_id"])
    refused = Widget(client).request(avatar["public_id"])
    problem = assert_problem(refused, 429, "rate_limited")
    assert "avatar" in problem["detail"]
    assert refused.headers["retry-after"] == "50"
    clock.now += 50
    assert Widget(client).request(avatar["public_id"]).status_code == 201, (
        "the next minute did not start afresh"
    )
    other = api.create_avatar(owner, allowed_origins=[SITE])
    assert Widget(client).request(other["public_id"]).status_code == 201


# --- returning visitors ---------------------------------------------------------------------------------


def test_a_still_valid_visitor_token_keeps_the_visitor_and_marks_them_seen(
    widget: Widget, avatar: dict[str, Any], admin: Admin
) -> None:
    first = widget.token(avatar["public_id"])
    admin.execute(
        "update public.widget_visitors set last_seen_at = now() - interval '10 minutes' where id = %s",
        (first["visitor_id"],),
    )
    again = widget.token(avatar["public_id"], visitor_token=first["token"])
    assert again["visitor_id"] == first["visitor_id"]
    seen = admin.execute(
        "select last_seen_at > now() - interval '1 minute' as seen from public.widget_visitors where id = %s",
        (first["visitor_id"],),
    ).fetchone()
    assert seen == {"seen": True}


def test_a_visitor_whose_row_was_swept_becomes_a_new_visitor(
    widget: Widget, avatar: dict[str, Any], admin: Admin
) -> None:
    first = widget.token(avatar["public_id"])
    admin.execute("delete from public.widget_visitors where id = %s", (first["visitor_id"],))
    again = widget.token(avatar["public_id"], visitor_token=first["token"])
    assert again["visitor_id"] != first["visitor_id"]
    count = admin.execute(
        "select count(*) as n from public.widget_visitors where id = %s", (again["visitor_id"],)
    ).fetchone()
    assert count == {"n": 1}


def test_a_visitor_token_of_another_avatar_or_a_forged_one_makes_a_new_visitor(
    widget: Widget, api: Api, owner: User, avatar: dict[str, Any]
) -> None:
    other = api.create_avatar(owner, allowed_origins=[SITE])
    elsewhere = widget.token(other["public_id"])
    first = widget.token(avatar["public_id"], visitor_token=elsewhere["token"])
    assert first["visitor_id"] != elsewhere["visitor_id"]
    forged = jwt.encode(
        {**jwt.decode(first["token"], options={"verify_signature": False})}, "x" * 40, algorithm="HS256"
    )
    assert widget.token(avatar["public_id"], visitor_token=forged)["visitor_id"] != first["visitor_id"]
    assert widget.token(avatar["public_id"], visitor_token="garbage")["visitor_id"] != first["visitor_id"]


# --- using the token ---------------------------------------------------------------------------------------


def test_a_visitor_starts_a_session_and_sees_only_their_own(
    widget: Widget, client: httpx.Client, api: Api, owner: User, avatar: dict[str, Any]
) -> None:
    owners_session = api.start_session(owner, avatar["id"])
    issued = widget.token(avatar["public_id"])
    headers = visitor_headers(issued["token"])
    started = client.post("/v1/sessions", json={"avatar_id": avatar["id"]}, headers=headers)
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]

    mine = client.get("/v1/sessions", headers=headers)
    assert mine.status_code == 200, mine.text
    assert [item["id"] for item in mine.json()["items"]] == [session_id]
    assert mine.json()["items"][0]["user_id"] == issued["visitor_id"]
    assert client.get(f"/v1/sessions/{owners_session['session_id']}", headers=headers).status_code == 404

    seen_by_owner = client.get(f"/v1/sessions/{session_id}", headers=owner.headers)
    assert seen_by_owner.status_code == 200, seen_by_owner.text
    assert seen_by_owner.json()["user_id"] == issued["visitor_id"]
    assert seen_by_owner.json()["avatar_id"] == avatar["id"]
    owners_history = client.get("/v1/sessions", headers=owner.headers).json()["items"]
    assert [item["id"] for item in owners_history] == [session_id, owners_session["session_id"]]

    another_visitor = visitor_headers(widget.token(avatar["public_id"])["token"])
    assert client.get("/v1/sessions", headers=another_visitor).json()["items"] == []


def test_a_visitor_cannot_start_a_session_with_another_avatar(
    widget: Widget, client: httpx.Client, api: Api, owner: User, avatar: dict[str, Any]
) -> None:
    other = api.create_avatar(owner, allowed_origins=[SITE])
    headers = visitor_headers(widget.token(avatar["public_id"])["token"])
    assert_problem(client.post("/v1/sessions", json={"avatar_id": other["id"]}, headers=headers), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/avatars"),
        ("POST", "/v1/avatars"),
        ("GET", "/v1/avatars/{avatar_id}"),
        ("PATCH", "/v1/avatars/{avatar_id}"),
        ("DELETE", "/v1/avatars/{avatar_id}"),
        ("GET", "/v1/avatars/{avatar_id}/api-keys"),
        ("POST", "/v1/avatars/{avatar_id}/api-keys"),
    ],
)
def test_a_visitor_token_is_refused_on_owner_routes(
    widget: Widget, client: httpx.Client, avatar: dict[str, Any], method: str, path: str
) -> None:
    headers = visitor_headers(widget.token(avatar["public_id"])["token"])
    body = {"name": "Mine now"} if method in ("POST", "PATCH") else None
    response = client.request(method, path.format(avatar_id=avatar["id"]), json=body, headers=headers)
    problem = assert_problem(response, 403, "forbidden")
    assert "owner" in problem["detail"]


def test_a_visitor_token_is_refused_from_another_origin(
    widget: Widget, client: httpx.Client, avatar: dict[str, Any]
) -> None:
    token = widget.token(avatar["public_id"])["token"]
    problem = assert_problem(
        client.get("/v1/sessions", headers=visitor_headers(token, "http://localhost:5173")), 403, "forbidden"
    )
    assert SITE in problem["detail"]
    assert client.get("/v1/sessions", headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_tampered_expired_and_user_secret_visitor_tokens_are_refused(
    widget: Widget, client: httpx.Client, avatar: dict[str, Any]
) -> None:
    issued = widget.token(avatar["public_id"])
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    header, _payload, signature = issued["token"].split(".")
    tampered_payload = jwt.encode({**claims, "sub": str(uuid.uuid4())}, "k" * 40, algorithm="HS256").split(
        "."
    )[1]
    widget_secret = get_settings().widget_secret()
    user_secret = get_settings().hs256_secret()
    assert widget_secret is not None
    assert user_secret is not None
    refused = {
        "tampered": f"{header}.{tampered_payload}.{signature}",
        "expired": jwt.encode({**claims, "exp": int(time.time()) - 60}, widget_secret, algorithm="HS256"),
        "user secret": jwt.encode(claims, user_secret, algorithm="HS256"),
    }
    for name, token in refused.items():
        response = client.post(
            "/v1/sessions", json={"avatar_id": avatar["id"]}, headers=visitor_headers(token)
        )
        assert response.status_code == 401, (name, response.text)
        assert_problem(response, 401, "unauthorized")


# --- the studio's own pages --------------------------------------------------------------------------


def test_the_apps_own_origin_gets_a_token_for_any_avatar_so_the_demo_page_works(
    widget: Widget, api: Api, owner: User, base_url: str
) -> None:
    """The studio's "Try it on the demo page" link opens /widget-demo.html on the app's own origin."""
    avatar = api.create_avatar(owner, allowed_origins=[])
    response = widget.request(avatar["public_id"], origin=base_url)
    assert response.status_code == 201, response.text
    assert (
        jwt.decode(
            response.json()["token"],
            get_settings().widget_secret(),
            algorithms=["HS256"],
            audience="authenticated",
        )["origin"]
        == base_url
    )


def test_a_studio_origin_from_cors_origins_gets_a_token_for_any_avatar(
    widget: Widget, api: Api, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().model_copy(update={"cors_origins": ["https://studio.example.com"]})
    monkeypatch.setattr(deps, "get_settings", lambda: settings)
    avatar = api.create_avatar(owner, allowed_origins=[])
    assert widget.request(avatar["public_id"], origin="https://studio.example.com").status_code == 201
    assert_problem(
        widget.request(avatar["public_id"], origin="https://other.example.com"), 403, "origin_not_allowed"
    )


def test_an_allowed_origin_pasted_with_a_path_is_stored_as_its_origin(api: Api, owner: User) -> None:
    avatar = api.create_avatar(
        owner,
        allowed_origins=["https://shop.example.com/products/lamp?ref=1#top", " http://localhost:5173/ "],
    )
    assert avatar["allowed_origins"] == ["http://localhost:5173", "https://shop.example.com"]


def test_an_allowed_origin_that_is_no_website_is_refused_in_plain_words(api: Api, owner: User) -> None:
    response = api.client.post(
        "/v1/avatars", headers=owner.headers, json={"name": "Ava", "allowed_origins": ["shop.example.com"]}
    )
    problem = assert_problem(response, 422, "invalid_request")
    assert problem["detail"] == (
        "allowed_origins: 'shop.example.com' is not a website address like https://example.com"
    )


# --- the widget's look -------------------------------------------------------------------------------


def test_an_avatars_widget_look_is_public_with_its_language_resolved(
    api: Api, owner: User, client: httpx.Client
) -> None:
    avatar = api.create_avatar(owner, language="fr-CA")
    default = client.get(f"/v1/widget/look/{avatar['public_id']}", headers={"origin": "https://any.example"})
    assert default.status_code == 200, default.text
    assert default.json() == {
        "launcher_text": None,
        "color": "#2563eb",
        "position": "right",
        "size": "compact",
        "open": False,
        "language": "fr-CA",
        "show_latency": False,
    }
    assert default.headers["access-control-allow-origin"] == "*"
    look = {"launcher_text": "Ask the keeper", "color": "#0f766e", "position": "left", "language": "en"}
    patched = client.patch(f"/v1/avatars/{avatar['id']}", headers=owner.headers, json={"widget": look})
    assert patched.status_code == 200, patched.text
    assert patched.json()["widget"]["launcher_text"] == "Ask the keeper"
    public = client.get(f"/v1/widget/look/{avatar['public_id']}").json()
    assert public["launcher_text"] == "Ask the keeper"
    assert public["color"] == "#0f766e"
    assert public["position"] == "left"
    assert public["language"] == "en"


def test_a_widget_look_that_is_not_valid_is_refused_field_by_field(api: Api, owner: User) -> None:
    avatar = api.create_avatar(owner)
    response = api.client.patch(
        f"/v1/avatars/{avatar['id']}",
        headers=owner.headers,
        json={"widget": {"color": "blue", "position": "top"}},
    )
    problem = assert_problem(response, 422, "invalid_request")
    assert [error.split(":")[0] for error in problem["errors"]] == ["widget.color", "widget.position"]


def test_the_look_of_an_unknown_avatar_is_404(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/widget/look/av_nobody"), 404, "not_found")
