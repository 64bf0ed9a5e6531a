"""Simli: a session token (`/compose/token`) and ICE servers (`/compose/ice`) for the browser client.

Simli has no server-side stop or list: the browser ends a session (`stop()` / `DONE`), and the
limits set here (the avatar's maximum length and our idle limit) end it at Simli when it does not.
"""

import logging
from typing import Any, ClassVar, Literal

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
from functions.core.providers.avatar.http import KeyedProvider, require_str

log = logging.getLogger(__name__)

# What /compose/token answers instead of a token when it refuses (with HTTP 400 and a `detail`).
_REFUSAL = "FAIL TOKEN"


class SimliOptions(ProviderOptions):
    """docs.simli.com/api-reference/compose-session-token (`model`)."""

    model: Literal["fasttalk", "artalk"] | None = Field(default=None, description="Simli face model")


class SimliProvider(KeyedProvider):
    """`POST /compose/token` and `GET /compose/ice` with `x-simli-api-key`."""

    name: ClassVar[str] = "simli"
    label: ClassVar[str] = "Simli"
    settings: ClassVar[tuple[str, ...]] = ("SIMLI_API_KEY", "SIMLI_API_BASE")
    Options: ClassVar[type[ProviderOptions]] = SimliOptions
    capabilities: ClassVar[Capabilities] = Capabilities(takes_audio=True)
    minute_price_usd: ClassVar[float] = 0.05  # the per-minute plan rate
    key_header: ClassVar[str] = "x-simli-api-key"

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        avatar = request.avatar
        if not avatar.provider_avatar_id:
            raise ProviderError(self.name, "the avatar has no provider_avatar_id (a Simli face id)")
        options = options_of(self.name, SimliOptions, avatar)
        body: dict[str, Any] = {
            "faceId": avatar.provider_avatar_id,
            "handleSilence": True,
            "maxSessionLength": avatar.max_session_seconds,
            "maxIdleTime": avatar.idle_timeout_seconds,
        }
        if options.model:
            body["model"] = options.model
        answer = await self._http.call("POST", "/compose/token", json_body=body)
        token = require_str(self.name, answer, "session_token")
        if token == _REFUSAL:
            raise ProviderError(self.name, "Simli refused the session token", status=200, body=answer)
        return ProviderSession(
            provider=self.name,
            credentials={
                "session_token": token,
                "ice_servers": await self._ice_servers(),
                "max_session_seconds": avatar.max_session_seconds,
                "max_idle_seconds": avatar.idle_timeout_seconds,
            },
        )

    async def _ice_servers(self) -> list[dict[str, Any]] | None:
        """ICE servers for P2P; without them (or with an empty list, which the SDK refuses for P2P:
        "Ice Servers Required for P2P Mode") the browser client uses LiveKit."""
        try:
            return await self.ice_servers()
        except ProviderError as exc:
            log.warning("simli ICE servers unavailable: %s", exc.detail)
            return None

    async def ice_servers(self) -> list[dict[str, Any]] | None:
        """`GET /compose/ice`: the ICE servers, or None when the answer holds none."""
        answer = await self._http.call("GET", "/compose/ice", idempotent=True)
        if isinstance(answer, dict):
            answer = answer.get("data") or answer.get("iceServers") or answer.get("ice_servers")
        if not isinstance(answer, list):
            return None
        return [server for server in answer if isinstance(server, dict)]

    async def keep_alive(self, provider_session_id: str) -> None:
        return None

    async def stop_session(self, provider_session_id: str) -> None:
        return None

    async def list_sessions(self) -> list[LiveSession] | None:
        return None
