"""Verification of access tokens (Supabase users, local dev users, widget visitors) and signing of ours."""

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.core.auth.jwks import JwksCache
from functions.core.errors import Forbidden, Unauthorized
from functions.core.settings import LOCAL_ISSUER, Settings

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})
WIDGET_ISSUER = "avatar-studio-widget"
# A provider's custom-LLM credential: one session's chat-completions callback, nothing else.
CALLBACK_ISSUER = "avatar-studio-session-callback"
CALLBACK_AUDIENCE = "avatar-studio-session-callback"


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: its user id and the claims handed to Postgres.

    A widget visitor carries the avatar (and the site origin) its token is bound to; a caller
    holding an avatar API key carries the avatar and the key's id; a provider holding a session's
    callback token carries that session's avatar."""

    user_id: uuid.UUID
    claims: dict[str, Any]
    is_visitor: bool = False
    avatar_id: uuid.UUID | None = None
    origin: str | None = None
    api_key_id: uuid.UUID | None = None


class TokenVerifier:
    def __init__(self, settings: Settings, jwks: JwksCache | None = None) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.resolved_jwt_issuer
        self._secret = settings.hs256_secret()
        self._widget_secret = widget_key(settings)
        jwks_url = settings.resolved_jwks_url
        self._jwks = jwks or (JwksCache(jwks_url, settings.jwks_cache_seconds) if jwks_url else None)

    async def verify(self, token: str) -> Principal:
        import jwt  # here rather than at import: PyJWT and cryptography are slow to import on a cold start

        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is malformed") from exc
        if unverified.get("iss") == CALLBACK_ISSUER:
            raise Unauthorized("a session callback token is accepted only by its session's chat completions")
        if unverified.get("iss") == WIDGET_ISSUER:
            # Visitor tokens are checked with the widget key only, so neither key can stand in for the other.
            if self._widget_secret is None:
                raise Unauthorized("visitor tokens are not accepted by this deployment")
            return verify_visitor_token(self._widget_secret, token, audience=self._audience)
        algorithm = header.get("alg")
        if algorithm == "HS256":
            if self._secret is None:
                raise Unauthorized("HS256 tokens are not accepted by this deployment")
            key: Any = self._secret
        elif algorithm in ASYMMETRIC_ALGORITHMS:
            if self._jwks is None:
                raise Unauthorized("asymmetric tokens are not accepted: no JWKS is configured")
            key = await self._jwks.key_for(header.get("kid"), algorithm)
        else:
            raise Unauthorized(f"token algorithm {algorithm!r} is not accepted")
        claims = _decode(token, key, algorithm, audience=self._audience, issuer=self._issuer)
        return Principal(user_id=_subject(claims), claims=claims)


def widget_key(settings: Settings) -> str | None:
    """The key of visitor tokens; none when it is missing or is also the user JWT key, which would let
    whoever holds one forge the other kind of token."""
    secret = settings.widget_secret()
    return None if secret is None or secret == settings.hs256_secret() else secret


def verify_visitor_token(secret: str, token: str, *, audience: str) -> Principal:
    """A widget visitor's token: HS256 under the widget key, our issuer, bound to one avatar."""
    import jwt

    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token is malformed") from exc
    if algorithm != "HS256":
        raise Unauthorized(f"token algorithm {algorithm!r} is not accepted for visitor tokens")
    claims = _decode(token, secret, "HS256", audience=audience, issuer=WIDGET_ISSUER, require=("avatar_id",))
    try:
        avatar_id = uuid.UUID(str(claims["avatar_id"]))
    except ValueError as exc:
        raise Unauthorized("the visitor token is not bound to an avatar") from exc
    origin = claims.get("origin")
    return Principal(
        user_id=_subject(claims),
        claims=claims,
        is_visitor=True,
        avatar_id=avatar_id,
        origin=origin if isinstance(origin, str) else None,
    )


def sign_visitor_token(
    secret: str,
    *,
    visitor_id: uuid.UUID,
    avatar_id: uuid.UUID,
    origin: str,
    audience: str,
    ttl_seconds: int,
) -> tuple[str, datetime]:
    """A visitor token and the moment it expires."""
    import jwt

    now = int(time.time())
    claims = {
        "sub": str(visitor_id),
        "role": "authenticated",
        "aud": audience,
        "iss": WIDGET_ISSUER,
        "avatar_id": str(avatar_id),
        "origin": origin,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256"), datetime.fromtimestamp(now + ttl_seconds, UTC)


def callback_key(widget_secret: str) -> str:
    """The key of session callback tokens: derived from the widget key, so it needs no setting of its
    own, yet no visitor token verifies as a callback token nor the other way round."""
    return hmac.new(widget_secret.encode(), b"avatar-studio session callback", hashlib.sha256).hexdigest()


def sign_session_callback_token(
    widget_secret: str, *, session_id: uuid.UUID, user_id: uuid.UUID, avatar_id: uuid.UUID, ttl_seconds: int
) -> str:
    """The credential a provider holds to call one session's chat completions until the session ends."""
    import jwt

    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "aud": CALLBACK_AUDIENCE,
        "iss": CALLBACK_ISSUER,
        "session_id": str(session_id),
        "avatar_id": str(avatar_id),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, callback_key(widget_secret), algorithm="HS256")


def is_session_callback_token(token: str) -> bool:
    import jwt

    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == CALLBACK_ISSUER
    except jwt.PyJWTError:
        return False


def verify_session_callback_token(
    widget_secret: str, token: str, *, session_id: uuid.UUID, audience: str
) -> Principal:
    """The session's user, limited to that session and its avatar; 403 for another session's token.

    The returned claims are what the database sees (`audience` is the user tokens' audience), so the
    turn runs under RLS exactly as the session's own user would run it."""
    import jwt

    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token is malformed") from exc
    if algorithm != "HS256":
        raise Unauthorized(f"token algorithm {algorithm!r} is not accepted for session callback tokens")
    claims = _decode(
        token,
        callback_key(widget_secret),
        "HS256",
        audience=CALLBACK_AUDIENCE,
        issuer=CALLBACK_ISSUER,
        require=("session_id", "avatar_id"),
    )
    try:
        bound_session = uuid.UUID(str(claims["session_id"]))
        avatar_id = uuid.UUID(str(claims["avatar_id"]))
    except ValueError as exc:
        raise Unauthorized("the session callback token is not bound to a session") from exc
    if bound_session != session_id:
        raise Forbidden("this session callback token belongs to another session")
    user_id = _subject(claims)
    db_claims = {"sub": str(user_id), "role": "authenticated", "aud": audience, "avatar_id": str(avatar_id)}
    return Principal(user_id=user_id, claims=db_claims, avatar_id=avatar_id)


def sign_local_token(
    secret: str, user_id: uuid.UUID, email: str, *, ttl_seconds: int = 3600, audience: str = "authenticated"
) -> str:
    """A local owner's token, for the audience the verifier expects (`JWT_AUDIENCE`)."""
    import jwt

    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "email": email,
        "aud": audience,
        "role": "authenticated",
        "iss": LOCAL_ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _decode(
    token: str,
    key: Any,
    algorithm: str,
    *,
    audience: str,
    issuer: str | None = None,
    require: tuple[str, ...] = (),
) -> dict[str, Any]:
    import jwt

    required = ["exp", "sub", "aud", *(["iss"] if issuer else []), *require]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            options={"require": required},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the access token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthorized("the access token is not valid yet") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized("the access token has the wrong audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthorized("the access token has the wrong issuer") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"the access token has no {exc.claim!r} claim") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token signature is invalid") from exc
    return claims


def _subject(claims: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise Unauthorized("the access token subject is not a user id") from exc
