"""Dependencies that keep route signatures short: the verified caller, the database, settings, the clock.

Every function's app imports this module, so what only one kind of caller needs (API keys, a session's
callback token) is imported when such a caller first comes."""

import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from functions.core.auth.tokens import (
    Principal,
    TokenVerifier,
    is_session_callback_token,
    verify_session_callback_token,
    widget_key,
)
from functions.core.db.pool import Database, get_database
from functions.core.errors import Forbidden, Unauthorized
from functions.core.origins import normalise_origin
from functions.core.sessions.state import session_callback_is_live
from functions.core.settings import Settings, get_settings


@lru_cache(maxsize=1)
def get_verifier() -> TokenVerifier:
    return TokenVerifier(get_settings())


# These document the bearer credentials in OpenAPI; the header itself is read and checked below, so a
# missing or wrong one is our 401 problem.
_user_token = HTTPBearer(
    auto_error=False,
    scheme_name="AccessToken",
    description="A Supabase user JWT, a local dev token (local mode) or a widget visitor token",
)
_api_key = HTTPBearer(auto_error=False, scheme_name="AvatarApiKey", description="An avatar API key, sk-avs-…")
_callback_token = HTTPBearer(
    auto_error=False,
    scheme_name="SessionCallbackToken",
    description="A session's callback token, held by a provider running the conversation",
)
UserToken = Annotated[HTTPAuthorizationCredentials | None, Security(_user_token)]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def current_principal(request: Request, _documented: UserToken) -> Principal:
    return await _verified_principal(request)


async def _verified_principal(request: Request) -> Principal:
    token = _bearer(request)
    if token is None:
        raise Unauthorized("send an access token as 'Authorization: Bearer <token>'")
    principal = await get_verifier().verify(token)
    origin = request.headers.get("origin")
    # A visitor token works only from the site it was issued to (a browser always sends Origin there).
    if principal.is_visitor and principal.origin and origin and normalise_origin(origin) != principal.origin:
        raise Forbidden(f"this visitor token was issued for {principal.origin}, not for {origin}")
    return principal


async def owner_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.is_visitor:
        raise Forbidden("widget visitors cannot manage avatars; sign in to the studio as the owner")
    return principal


# Async wrappers: FastAPI runs plain-function dependencies in a thread pool, a hop per request.
async def _database() -> Database:
    return get_database()


async def _settings() -> Settings:
    return get_settings()


def wall_clock() -> float:
    """Seconds since the epoch: the clock rate-limit windows are reckoned on (tests put in their own)."""
    return time.time()


async def _clock() -> Callable[[], float]:
    return wall_clock


async def api_key_principal(
    request: Request,
    db: Annotated[Database, Depends(_database)],
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_api_key)],
) -> Principal:
    from functions.core.auth.api_keys import InvalidApiKey, principal_for_api_key

    key = _bearer(request)
    if key is None:
        raise InvalidApiKey("send the avatar's API key as 'Authorization: Bearer sk-avs-...'")
    return await principal_for_api_key(db, key)


async def session_caller(
    session_id: uuid.UUID,
    request: Request,
    db: Annotated[Database, Depends(_database)],
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_callback_token)],
    _or_user: UserToken,
) -> Principal:
    """The caller of one session's chat completions: the session's callback token (held by a provider
    running the conversation), bound to this session and alive only while it runs, or a user's token."""
    token = _bearer(request)
    if token is None or not is_session_callback_token(token):
        return await _verified_principal(request)
    settings = get_settings()
    secret = widget_key(settings)
    if secret is None:
        raise Unauthorized("session callback tokens are not accepted by this deployment")
    if request.headers.get("origin") is not None:
        raise Forbidden("a session callback token is for the provider's servers, not for a web page")
    principal = verify_session_callback_token(
        secret, token, session_id=session_id, audience=settings.jwt_audience
    )
    if not await session_callback_is_live(db, principal, session_id):
        raise Unauthorized("this session has ended, and its callback token with it")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
OwnerUser = Annotated[Principal, Depends(owner_principal)]
ApiKeyUser = Annotated[Principal, Depends(api_key_principal)]
SessionCaller = Annotated[Principal, Depends(session_caller)]
Db = Annotated[Database, Depends(_database)]
AppSettings = Annotated[Settings, Depends(_settings)]
Clock = Annotated[Callable[[], float], Depends(_clock)]
