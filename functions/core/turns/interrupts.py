"""Barge-in: the user cut the avatar off, so the reply is kept as what they heard of it."""

import uuid

from functions.core.auth.tokens import Principal
from functions.core.db.pool import Database
from functions.core.errors import Conflict, NotFound
from functions.core.turns import store
from functions.core.turns.models import Interrupted


class TurnInProgress(Conflict):
    code = "turn_in_progress"


async def interrupt_turn(
    db: Database, principal: Principal, session_id: uuid.UUID, turn_id: str, heard_text: str
) -> Interrupted:
    async with db.as_user(principal.claims) as conn:
        reply, asked = await store.mark_interrupted(conn, session_id, turn_id, heard_text.strip())
    if reply is not None:
        return Interrupted(assistant_message_id=reply["id"], heard_content=reply["heard_content"])
    if asked:
        raise TurnInProgress("the reply to this turn is not stored yet; try again in a moment")
    raise NotFound("no such turn in this session")
