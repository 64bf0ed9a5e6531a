"""Avatar API keys as credentials: a live key stands for its avatar's owner, limited to that avatar."""

import hashlib

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import Unauthorized
from functions.core.settings import get_settings

API_KEY_PREFIX = "sk-avs-"


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def principal_for_api_key(db: Database, key: str) -> Principal:
    """The owner of the key's avatar, with claim `avatar_id`; 401 `invalid_api_key` unless the key is live."""
    if not key.startswith(API_KEY_PREFIX):
        raise InvalidApiKey("this is not an avatar API key; keys start with 'sk-avs-'")
    # As service_role: the caller holds only the key, no user token; private.avatar_api_key finds a live
    # key by its hash and is executable by service_role alone.
    async with db.as_service() as conn:
        cur = await conn.execute(
            "select key_id, avatar_id, owner_id from private.avatar_api_key(%s)", (hash_api_key(key),)
        )
        row = await cur.fetchone()
    if row is None:
        raise InvalidApiKey("this API key is unknown or has been revoked")
    claims = {
        "sub": str(row["owner_id"]),
        "role": "authenticated",
        "aud": get_settings().jwt_audience,
        "avatar_id": str(row["avatar_id"]),
    }
    return Principal(
        user_id=row["owner_id"], claims=claims, avatar_id=row["avatar_id"], api_key_id=row["key_id"]
    )
