"""How an avatar's widget looks on a site, set in the studio; the page's data- attributes override it."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core.db.pool import Database
from functions.core.errors import NotFound

LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$"


class WidgetLook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    launcher_text: str | None = Field(default=None, min_length=1, max_length=60)
    color: str = Field(default="#2563eb", pattern=r"^#[0-9a-fA-F]{6}$")
    position: Literal["left", "right"] = "right"
    size: Literal["compact", "full"] = "compact"
    open: bool = Field(default=False, strict=True)
    # The widget's own texts; None speaks the avatar's language.
    language: str | None = Field(default=None, min_length=2, max_length=16, pattern=LANGUAGE_TAG)
    # Answer timings (retrieval, first sentence, first audio) are for developers: off for visitors.
    show_latency: bool = Field(default=False, strict=True)


class PublicLook(WidgetLook):
    """What widget.js reads before a visitor opens it: the look, with the language resolved."""

    language: str


async def public_look(db: Database, public_id: str) -> PublicLook:
    # As service_role: the page has no token yet. Only the look of one avatar, by its public id.
    async with db.as_service() as conn:
        cur = await conn.execute(
            "select language, widget from public.avatars where public_id = %s", (public_id,)
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound("no avatar has this public id")
    look = WidgetLook(**row["widget"])
    return PublicLook(**{**look.model_dump(), "language": look.language or row["language"]})
