"""Access token verification: HS256 with the project secret, ES256/RS256 through a cached JWKS."""

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from functions.core.auth import jwks as jwks_module
from functions.core.auth.jwks import JwksCache
from functions.core.auth.tokens import (
    WIDGET_ISSUER,
    Principal,
    TokenVerifier,
    sign_local_token,
    sign_visitor_token,
    widget_key,
)
from functions.core.errors import Unauthorized
from functions.core.knowledge.ingest import on_behalf_of
from functions.core.retry import RetryPolicy
from functions.core.settings import Settings

SECRET = "x" * 40
JWKS_URL = "https://project-ref.supabase.co/auth/v1/.well-known/jwks.json"
USER_ID = uuid.uuid4()


def hs256_settings() -> Settings:
    return Settings(app_mode="cloud", database_url="postgresql://x", supabase_jwt_secret=SECRET)


def jwks_settings() -> Settings:
    return Settings(app_mode="cloud", database_url="postgresql://x", jwks_url=JWKS_URL)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": str(USER_ID),
        "aud": "authenticated",
        "role": "authenticated",
        "email": "ada@example.test",
        "iat": now,
        "exp": now + 3600,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(hs256_settings())


async def assert_refused(verifier: TokenVerifier, token: str, words: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token)
    assert words in caught.value.detail
    assert caught.value.status == 401
    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}
    return caught.value


# --- HS256 ---------------------------------------------------------------------------------------


async def test_a_valid_hs256_token_is_accepted(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(hs256(claims()))
    assert isinstance(principal, Principal)
    assert principal.user_id == USER_ID
    assert principal.claims["email"] == "ada@example.test"
    assert principal.claims["role"] == "authenticated"


async def test_a_local_token_is_accepted_by_a_verifier_with_the_same_secret(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(sign_local_token(SECRET, USER_ID, "ada@example.test"))
    assert principal.user_id == USER_ID


async def test_a_local_token_is_for_the_audience_the_deployment_checks() -> None:
    settings = Settings(
        app_mode="cloud", database_url="postgresql://x", supabase_jwt_secret=SECRET, jwt_audience="studio"
    )
    token = sign_local_token(SECRET, USER_ID, "ada@example.test", audience=settings.jwt_audience)
    assert (await TokenVerifier(settings).verify(token)).user_id == USER_ID
    await assert_refused(
        TokenVerifier(settings), sign_local_token(SECRET, USER_ID, "ada@example.test"), "audience"
    )


# --- issuer ---------------------------------------------------------------------------------------

SUPABASE_URL = "https://project-ref.supabase.co"
# What Supabase Auth puts in `iss`: https://supabase.com/docs/guides/auth/jwt-fields (iss).
SUPABASE_ISSUER = SUPABASE_URL + "/auth/v1"


def supabase_verifier(**values: Any) -> TokenVerifier:
    return TokenVerifier(
        Settings(
            app_mode="cloud",
            database_url="postgresql://x",
            supabase_jwt_secret=SECRET,
            supabase_url=SUPABASE_URL + "/",
            **values,
        )
    )


async def test_a_supabase_token_from_the_projects_auth_server_is_accepted() -> None:
    principal = await supabase_verifier().verify(hs256(claims(iss=SUPABASE_ISSUER)))
    assert principal.user_id == USER_ID


@pytest.mark.parametrize(
    "issuer",
    ["https://other-ref.supabase.co/auth/v1", SUPABASE_URL, "avatar-studio-local"],
    ids=["another-project", "without-auth-path", "local-dev"],
)
async def test_a_token_from_another_issuer_is_refused(issuer: str) -> None:
    await assert_refused(supabase_verifier(), hs256(claims(iss=issuer)), "wrong issuer")


async def test_a_token_without_an_issuer_is_refused_where_one_is_expected() -> None:
    await assert_refused(supabase_verifier(), hs256(claims()), "'iss'")


async def test_jwt_issuer_overrides_the_issuer_derived_from_the_supabase_url() -> None:
    verifier = supabase_verifier(jwt_issuer="https://auth.example.com")
    assert (await verifier.verify(hs256(claims(iss="https://auth.example.com")))).user_id == USER_ID
    await assert_refused(verifier, hs256(claims(iss=SUPABASE_ISSUER)), "wrong issuer")


async def test_local_mode_expects_its_own_dev_sign_in_issuer() -> None:
    verifier = TokenVerifier(Settings(app_mode="local", supabase_jwt_secret=SECRET))
    assert (await verifier.verify(sign_local_token(SECRET, USER_ID, "ada@example.test"))).user_id == USER_ID
    await assert_refused(verifier, hs256(claims(iss=SUPABASE_ISSUER)), "wrong issuer")


async def test_a_token_expired_within_the_leeway_is_still_accepted(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(hs256(claims(exp=int(time.time()) - 1)))
    assert principal.user_id == USER_ID


async def test_an_expired_token_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, hs256(claims(exp=int(time.time()) - 60)), "expired")


async def test_a_token_not_valid_yet_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, hs256(claims(nbf=int(time.time()) + 120)), "not valid yet")


async def test_a_token_with_a_wrong_signature_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, hs256(claims(), secret="y" * 40), "signature")


async def test_a_token_with_a_tampered_payload_is_refused(verifier: TokenVerifier) -> None:
    header, _payload, signature = hs256(claims()).split(".")
    forged = f"{header}.{_b64(claims(sub=str(uuid.uuid4())))}.{signature}"
    await assert_refused(verifier, forged, "signature")


@pytest.mark.parametrize("audience", ["anon", "service_role", ["other"]])
async def test_a_token_for_another_audience_is_refused(verifier: TokenVerifier, audience: object) -> None:
    await assert_refused(verifier, hs256(claims(aud=audience)), "audience")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_alg_none_token_is_refused(verifier: TokenVerifier, alg: str) -> None:
    token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims())}."
    await assert_refused(verifier, token, "not accepted")


@pytest.mark.parametrize("claim", ["sub", "exp", "aud"])
async def test_a_token_without_a_required_claim_is_refused(verifier: TokenVerifier, claim: str) -> None:
    await assert_refused(verifier, hs256(claims(**{claim: None})), f"no '{claim}' claim")


async def test_a_token_whose_subject_is_not_a_user_id_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, hs256(claims(sub="service-account")), "not a user id")


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b", "a.b.c", "Bearer abc.def.ghi", "{}.{}.{}"])
async def test_a_malformed_token_is_refused(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_an_hs512_token_is_refused(verifier: TokenVerifier) -> None:
    token = jwt.encode(claims(), "z" * 64, algorithm="HS512")
    await assert_refused(verifier, token, "'HS512' is not accepted")


async def test_an_hs256_token_is_refused_where_only_a_jwks_is_configured() -> None:
    verifier = TokenVerifier(jwks_settings())
    await assert_refused(verifier, hs256(claims()), "HS256 tokens are not accepted")


async def test_an_asymmetric_token_is_refused_where_no_jwks_is_configured(verifier: TokenVerifier) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    await assert_refused(verifier, token, "no JWKS is configured")


# --- ES256 and RS256 through the JWKS ----------------------------------------------------------------


class Keys:
    def __init__(self) -> None:
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.unpublished = ec.generate_private_key(ec.SECP256R1())

    def document(self) -> dict[str, Any]:
        es256 = ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True)
        rs256 = RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        return {
            "keys": [
                {**es256, "kid": "ec-2026", "alg": "ES256", "use": "sig"},
                {**rs256, "kid": "rsa-2026", "alg": "RS256", "use": "sig"},
                {"kty": "oct", "kid": "no-secret"},
                {"kty": "RSA", "kid": "no-modulus", "e": "AQAB"},
                {"kid": "no-type"},
            ]
        }


class JwksServer:
    """A JWKS endpoint served through httpx.MockTransport, counting the requests it answers and the
    waits the retry policy asks for between them (recorded, not slept)."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.requests: list[httpx.Request] = []
        self.waits: list[float] = []
        self.status = 200

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, text="unavailable")
        return httpx.Response(200, json=self.keys.document())


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def server(keys: Keys) -> JwksServer:
    return JwksServer(keys)


@pytest.fixture
async def jwks_cache(server: JwksServer) -> AsyncIterator[JwksCache]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as http:
        yield JwksCache(JWKS_URL, 600, client=http, policy=RetryPolicy(attempts=3, sleep=server.wait))


@pytest.fixture
def jwks_verifier(jwks_cache: JwksCache) -> TokenVerifier:
    return TokenVerifier(jwks_settings(), jwks=jwks_cache)


def es256(keys: Keys, payload: dict[str, Any], kid: str = "ec-2026") -> str:
    return jwt.encode(payload, keys.ec, algorithm="ES256", headers={"kid": kid})


def rs256(keys: Keys, payload: dict[str, Any], kid: str = "rsa-2026") -> str:
    return jwt.encode(payload, keys.rsa, algorithm="RS256", headers={"kid": kid})


async def test_es256_and_rs256_tokens_signed_by_published_keys_are_accepted(
    jwks_verifier: TokenVerifier, keys: Keys, server: JwksServer
) -> None:
    assert (await jwks_verifier.verify(es256(keys, claims()))).user_id == USER_ID
    assert (await jwks_verifier.verify(rs256(keys, claims()))).user_id == USER_ID
    assert [str(request.url) for request in server.requests] == [JWKS_URL]


async def test_the_jwks_is_fetched_once_for_many_verifications(
    jwks_verifier: TokenVerifier, keys: Keys, server: JwksServer
) -> None:
    for _ in range(10):
        await jwks_verifier.verify(es256(keys, claims()))
        await jwks_verifier.verify(rs256(keys, claims()))
    assert len(server.requests) == 1


async def test_a_token_signed_by_an_unknown_key_id_is_refused_without_refetching(
    jwks_verifier: TokenVerifier, keys: Keys, server: JwksServer
) -> None:
    await jwks_verifier.verify(es256(keys, claims()))
    for _ in range(5):
        await assert_refused(jwks_verifier, es256(keys, claims(), kid="rotated-away"), "unknown key")
    assert len(server.requests) == 1


async def test_an_unknown_key_id_on_a_cold_cache_is_refused(
    jwks_verifier: TokenVerifier, keys: Keys, server: JwksServer
) -> None:
    await assert_refused(jwks_verifier, es256(keys, claims(), kid="nobody"), "unknown key")
    assert len(server.requests) == 1


async def test_a_token_signed_by_another_key_under_a_published_kid_is_refused(
    jwks_verifier: TokenVerifier, keys: Keys
) -> None:
    forged = jwt.encode(claims(), keys.unpublished, algorithm="ES256", headers={"kid": "ec-2026"})
    await assert_refused(jwks_verifier, forged, "signature")


async def test_a_token_whose_algorithm_does_not_match_its_key_is_refused(
    jwks_verifier: TokenVerifier, keys: Keys
) -> None:
    await assert_refused(jwks_verifier, rs256(keys, claims(), kid="ec-2026"), "does not match its key")


async def test_a_token_without_a_key_id_is_refused(jwks_verifier: TokenVerifier, keys: Keys) -> None:
    token = jwt.encode(claims(), keys.ec, algorithm="ES256")
    await assert_refused(jwks_verifier, token, "no key id")


async def test_jwks_tokens_are_checked_for_expiry_and_audience(
    jwks_verifier: TokenVerifier, keys: Keys
) -> None:
    await assert_refused(jwks_verifier, es256(keys, claims(exp=int(time.time()) - 60)), "expired")
    await assert_refused(jwks_verifier, rs256(keys, claims(aud="anon")), "audience")


async def test_an_unreachable_jwks_refuses_tokens(
    jwks_verifier: TokenVerifier, keys: Keys, server: JwksServer
) -> None:
    server.status = 503
    await assert_refused(jwks_verifier, es256(keys, claims()), "could not be fetched")


async def test_a_new_key_id_is_fetched_once_the_cache_may_refresh(
    jwks_cache: JwksCache, keys: Keys, server: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(jwks_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    verifier = TokenVerifier(jwks_settings(), jwks=jwks_cache)
    await verifier.verify(es256(keys, claims()))
    clock.now += 60
    await assert_refused(verifier, es256(keys, claims(), kid="next"), "unknown key")
    assert len(server.requests) == 2
    await assert_refused(verifier, es256(keys, claims(), kid="next"), "unknown key")
    assert len(server.requests) == 2
    clock.now += 601
    await verifier.verify(rs256(keys, claims()))
    assert len(server.requests) == 3


async def test_a_failed_refresh_keeps_the_keys_already_fetched(
    jwks_cache: JwksCache, keys: Keys, server: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(jwks_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    verifier = TokenVerifier(jwks_settings(), jwks=jwks_cache)
    await verifier.verify(es256(keys, claims()))
    server.status = 500
    clock.now += 700
    assert (await verifier.verify(es256(keys, claims()))).user_id == USER_ID
    assert len(server.requests) == 1 + 3  # the refresh, tried as often as the retry policy allows
    assert len(server.waits) == 2


async def test_unusable_entries_in_the_jwks_are_skipped(jwks_verifier: TokenVerifier, keys: Keys) -> None:
    assert (await jwks_verifier.verify(es256(keys, claims()))).user_id == USER_ID
    for kid in ("no-secret", "no-modulus", "no-type"):
        await assert_refused(jwks_verifier, es256(keys, claims(), kid=kid), "unknown key")


# --- widget visitor tokens ---------------------------------------------------------------------------

WIDGET_SECRET = "w" * 40
AVATAR_ID = uuid.uuid4()
SITE = "https://shop.example.com"


def widget_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_mode": "cloud",
        "database_url": "postgresql://x",
        "supabase_jwt_secret": SECRET,
        "widget_token_secret": WIDGET_SECRET,
    }
    return Settings(**{**values, **overrides})


def visitor_claims(**overrides: Any) -> dict[str, Any]:
    bound: dict[str, Any] = {"iss": WIDGET_ISSUER, "avatar_id": str(AVATAR_ID), "origin": SITE, "email": None}
    return claims(**{**bound, **overrides})


@pytest.fixture
def widget_verifier() -> TokenVerifier:
    return TokenVerifier(widget_settings())


async def test_a_signed_visitor_token_is_accepted_as_a_visitor_bound_to_its_avatar_and_origin(
    widget_verifier: TokenVerifier,
) -> None:
    token, expires_at = sign_visitor_token(
        WIDGET_SECRET,
        visitor_id=USER_ID,
        avatar_id=AVATAR_ID,
        origin=SITE,
        audience="authenticated",
        ttl_seconds=900,
    )
    principal = await widget_verifier.verify(token)
    assert principal.user_id == USER_ID
    assert principal.is_visitor
    assert principal.avatar_id == AVATAR_ID
    assert principal.origin == SITE
    assert principal.claims["role"] == "authenticated"
    assert principal.claims["avatar_id"] == str(AVATAR_ID)
    assert principal.claims["iss"] == WIDGET_ISSUER
    assert principal.claims["exp"] == int(expires_at.timestamp())
    assert 895 <= expires_at.timestamp() - time.time() <= 900


async def test_a_user_token_is_not_a_visitor(widget_verifier: TokenVerifier) -> None:
    principal = await widget_verifier.verify(hs256(claims()))
    assert not principal.is_visitor
    assert principal.avatar_id is None
    assert principal.origin is None


async def test_a_visitor_token_signed_with_the_user_secret_is_refused(widget_verifier: TokenVerifier) -> None:
    await assert_refused(widget_verifier, hs256(visitor_claims(), secret=SECRET), "signature")


async def test_a_user_token_signed_with_the_widget_secret_is_refused(widget_verifier: TokenVerifier) -> None:
    await assert_refused(widget_verifier, hs256(claims(), secret=WIDGET_SECRET), "signature")


async def test_an_expired_visitor_token_is_refused(widget_verifier: TokenVerifier) -> None:
    token = hs256(visitor_claims(exp=int(time.time()) - 60), secret=WIDGET_SECRET)
    await assert_refused(widget_verifier, token, "expired")


async def test_a_tampered_visitor_token_is_refused(widget_verifier: TokenVerifier) -> None:
    header, _payload, signature = hs256(visitor_claims(), secret=WIDGET_SECRET).split(".")
    forged = f"{header}.{_b64(visitor_claims(avatar_id=str(uuid.uuid4())))}.{signature}"
    await assert_refused(widget_verifier, forged, "signature")


async def test_a_visitor_token_without_an_avatar_is_refused(widget_verifier: TokenVerifier) -> None:
    token = hs256(claims(iss=WIDGET_ISSUER), secret=WIDGET_SECRET)
    await assert_refused(widget_verifier, token, "no 'avatar_id' claim")


async def test_a_visitor_token_bound_to_a_malformed_avatar_id_is_refused(
    widget_verifier: TokenVerifier,
) -> None:
    token = hs256(visitor_claims(avatar_id="lobby"), secret=WIDGET_SECRET)
    await assert_refused(widget_verifier, token, "not bound to an avatar")


async def test_a_visitor_token_for_another_audience_is_refused(widget_verifier: TokenVerifier) -> None:
    await assert_refused(widget_verifier, hs256(visitor_claims(aud="anon"), secret=WIDGET_SECRET), "audience")


async def test_a_visitor_token_with_another_algorithm_is_refused(widget_verifier: TokenVerifier) -> None:
    token = jwt.encode(visitor_claims(), WIDGET_SECRET * 2, algorithm="HS512")
    await assert_refused(widget_verifier, token, "not accepted for visitor tokens")


async def test_visitor_tokens_are_refused_where_no_widget_secret_is_configured() -> None:
    verifier = TokenVerifier(widget_settings(widget_token_secret=None))
    await assert_refused(verifier, hs256(visitor_claims(), secret=WIDGET_SECRET), "not accepted")


async def test_a_widget_secret_equal_to_the_user_secret_is_not_used() -> None:
    settings = widget_settings(widget_token_secret=SECRET)
    assert widget_key(settings) is None
    await assert_refused(TokenVerifier(settings), hs256(visitor_claims(), secret=SECRET), "not accepted")
    assert widget_key(widget_settings()) == WIDGET_SECRET


async def test_work_on_a_users_behalf_carries_the_claims_of_a_verified_token_of_theirs() -> None:
    settings = Settings(
        app_mode="cloud", database_url="postgresql://x", supabase_jwt_secret=SECRET, jwt_audience="studio"
    )
    verified = await TokenVerifier(settings).verify(hs256(claims(aud="studio", email=None)))
    acting = on_behalf_of(USER_ID, settings)
    assert acting.user_id == verified.user_id == USER_ID
    assert acting.claims == {key: verified.claims[key] for key in ("sub", "role", "aud")}
