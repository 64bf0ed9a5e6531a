"""Dependencies that keep route signatures short: the verified caller, the database, settings."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from functions.core.auth.tokens import Principal, TokenVerifier
from functions.core.db.pool import Database, get_database
from functions.core.errors import Unauthorized
from functions.core.settings import Settings, get_settings


@lru_cache(maxsize=1)
def get_verifier() -> TokenVerifier:
    return TokenVerifier(get_settings())


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an access token as 'Authorization: Bearer <token>'")
    return await get_verifier().verify(token.strip())


# Async wrappers: FastAPI runs plain-function dependencies in a thread pool, a hop per request.
async def _database() -> Database:
    return get_database()


async def _settings() -> Settings:
    return get_settings()


CurrentUser = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Database, Depends(_database)]
AppSettings = Annotated[Settings, Depends(_settings)]
