"""Verification of Supabase access tokens (HS256 secret or JWKS) and signing of local ones."""

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from functions.core.auth.jwks import JwksCache
from functions.core.errors import Unauthorized
from functions.core.settings import Settings

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})
LOCAL_ISSUER = "avatar-studio-local"


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: its user id and the claims handed to Postgres."""

    user_id: uuid.UUID
    claims: dict[str, Any]


class TokenVerifier:
    def __init__(self, settings: Settings, jwks: JwksCache | None = None) -> None:
        self._audience = settings.jwt_audience
        self._secret = settings.hs256_secret()
        jwks_url = settings.resolved_jwks_url
        self._jwks = jwks or (JwksCache(jwks_url, settings.jwks_cache_seconds) if jwks_url else None)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is malformed") from exc
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
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                options={"require": ["exp", "sub", "aud"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the access token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("the access token is not valid yet") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("the access token has the wrong audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the access token has no {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token signature is invalid") from exc
        try:
            user_id = uuid.UUID(str(claims["sub"]))
        except ValueError as exc:
            raise Unauthorized("the access token subject is not a user id") from exc
        return Principal(user_id=user_id, claims=claims)


def sign_local_token(secret: str, user_id: uuid.UUID, email: str, *, ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "email": email,
        "aud": "authenticated",
        "role": "authenticated",
        "iss": LOCAL_ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
