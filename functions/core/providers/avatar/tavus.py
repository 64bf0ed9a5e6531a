"""Tavus CVI: the backend creates the conversation and the browser joins it with Daily's JS (`createFrame`).

Tavus bills from creation, so every conversation is created with a maximum call duration and an
absent-participant timeout, and ended with `/end` as soon as our session ends. The cleanup job
reconciles with `GET /v2/conversations?status=active` (docs.tavus.io/api-reference/conversations/
get-conversations: `limit` default 10, `page` from 1), stopping billed conversations we no longer hold.
`participant_absent_timeout` counts from creation while nobody has joined; it is not an idle timeout.
"""

from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import (
    Capabilities,
    LiveSession,
    ProviderOptions,
    ProviderSession,
    SessionRequest,
    options_of,
)
from functions.core.providers.avatar.http import (
    KeyedProvider,
    error_message,
    parse_time,
    require_str,
    unwrap,
)

MAX_CALL_SECONDS = 3600  # Tavus' own maximum for max_call_duration
PAGE_SIZE = 100
MAX_PAGES = 50
_PROPERTIES = {"participant_left_timeout", "enable_closed_captions", "apply_greenscreen", "language"}


class TavusOptions(ProviderOptions):
    """docs.tavus.io/api-reference/conversations/create-conversation (PALs and faces are the new names of
    personas and replicas; the legacy fields still work)."""

    persona_id: str | None = Field(default=None, max_length=200, description="Persona (PAL) id")
    pal_id: str | None = Field(default=None, max_length=200, description="PAL id (new name of persona_id)")
    face_id: str | None = Field(default=None, max_length=200, description="Face (replica) id")
    language: str | None = Field(
        default=None, pattern=r"^[a-z]+( [a-z]+)*$", description="Full language name, e.g. english"
    )
    participant_left_timeout: int | None = Field(default=None, ge=0, le=3600)
    enable_closed_captions: bool | None = None
    apply_greenscreen: bool | None = None
    test_mode: bool = Field(default=False, description="No replica joins (checks only)")


class TavusProvider(KeyedProvider):
    """`POST /v2/conversations` and `POST /v2/conversations/{id}/end` with `x-api-key`."""

    name: ClassVar[str] = "tavus"
    label: ClassVar[str] = "Tavus"
    settings: ClassVar[tuple[str, ...]] = ("TAVUS_API_KEY", "TAVUS_API_BASE")
    Options: ClassVar[type[ProviderOptions]] = TavusOptions
    capabilities: ClassVar[Capabilities] = Capabilities(converses=True, lists_sessions=True)
    minute_price_usd: ClassVar[float] = 0.37  # the per-minute plan rate
    key_header: ClassVar[str] = "x-api-key"

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        avatar = request.avatar
        options = options_of(self.name, TavusOptions, avatar)
        # Faces and PALs are the new names of replicas and personas; the legacy fields still work.
        replica = avatar.provider_avatar_id or options.face_id
        persona = options.persona_id or options.pal_id
        if not replica and not persona:
            raise ProviderError(self.name, "the avatar needs a replica (provider_avatar_id) or a persona_id")
        properties: dict[str, Any] = {
            "max_call_duration": min(avatar.max_session_seconds, MAX_CALL_SECONDS),
            "participant_absent_timeout": avatar.idle_timeout_seconds,
        }
        properties.update(options.model_dump(include=_PROPERTIES, exclude_none=True))
        body: dict[str, Any] = {
            "conversation_name": f"avatar-studio {request.session_id}",
            "properties": properties,
        }
        if replica:
            body["replica_id"] = replica
        if persona:
            body["persona_id"] = persona
        if avatar.persona:
            body["conversational_context"] = avatar.persona
        if avatar.greeting:
            body["custom_greeting"] = avatar.greeting
        if options.test_mode:
            # No replica joins and nothing is billed: the conversation is created and ends at once.
            body["test_mode"] = True
        answer = await self._http.call("POST", "/v2/conversations", json_body=body)
        conversation_id = require_str(self.name, answer, "conversation_id")
        conversation = unwrap(answer)
        credentials: dict[str, Any] = {
            "conversation_id": conversation_id,
            "conversation_url": require_str(self.name, answer, "conversation_url"),
        }
        if conversation.get("meeting_token"):
            credentials["meeting_token"] = conversation["meeting_token"]
        return ProviderSession(
            provider=self.name, provider_session_id=conversation_id, credentials=credentials
        )

    async def first_replica(self) -> str | None:
        """A replica (face) of the account, for a check that needs one: `GET /v2/replicas?limit=1`."""
        answer = await self._http.call("GET", "/v2/replicas", params={"limit": "1"}, idempotent=True)
        items = answer.get("data") if isinstance(answer, dict) else answer
        if isinstance(items, list) and items and isinstance(items[0], dict):
            replica = items[0].get("replica_id")
            return replica if isinstance(replica, str) else None
        return None

    async def keep_alive(self, provider_session_id: str) -> None:
        return None

    async def stop_session(self, provider_session_id: str) -> None:
        """An unknown or already ended conversation answers `{"error": "Invalid conversation_id"}`
        (docs.tavus.io api-reference/conversations/end-conversation): it is already stopped."""
        try:
            await self._http.call(
                "POST",
                f"/v2/conversations/{quote(provider_session_id, safe='')}/end",
                idempotent=True,
                already_done=frozenset({404, 410}),
            )
        except ProviderError as exc:
            if exc.provider_status == 400 and error_message(exc.body) == "Invalid conversation_id":
                return
            raise

    async def list_sessions(self) -> list[LiveSession] | None:
        live: list[LiveSession] = []
        for page in range(1, MAX_PAGES + 1):
            answer = await self._http.call(
                "GET",
                "/v2/conversations",
                params={"status": "active", "limit": str(PAGE_SIZE), "page": str(page)},
                idempotent=True,
            )
            items = answer.get("data") if isinstance(answer, dict) else answer
            if not isinstance(items, list):
                return live
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("conversation_id"), str):
                    continue
                if str(item.get("status", "active")).lower() != "active":
                    continue
                live.append(
                    LiveSession(
                        provider_session_id=item["conversation_id"],
                        status="active",
                        created_at=parse_time(item.get("created_at")),
                    )
                )
            total = answer.get("total_count") if isinstance(answer, dict) else None
            if len(items) < PAGE_SIZE or (isinstance(total, int) and page * PAGE_SIZE >= total):
                break
        return live
