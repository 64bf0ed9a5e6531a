"""HeyGen LiveAvatar (`api.liveavatar.com`): a session token in FULL or LITE mode; the browser starts it.

FULL: LiveAvatar listens, thinks and speaks, the thinking done by our OpenAI-compatible
`/v1/sessions/{id}/chat/completions` (a custom LLM configuration holding the session's callback token
as a LiveAvatar secret). LITE (formerly CUSTOM): we send the audio, LiveAvatar renders the video.
"""

import logging
from typing import Any

from functions.core.errors import ProviderError
from functions.core.providers.avatar.base import LiveSession, ProviderSession, SessionRequest
from functions.core.providers.avatar.http import KeyedProvider, parse_time, require_str

log = logging.getLogger(__name__)

# The SDK treats code 1000 as success while the OpenAPI shows 100 (PROVIDERS.md §2.3, UNCONFIRMED).
_SUCCESS_CODES = frozenset({100, 1000})
_ENDED_STATUSES = frozenset({"closed", "closing", "stopped", "ended", "failed", "error"})
_MODES = {"FULL": "FULL", "LITE": "LITE", "CUSTOM": "LITE"}
_PERSONA_SETTINGS = ("context_id", "voice_settings", "stt_config")


class LiveAvatarProvider(KeyedProvider):
    """`POST /v1/sessions/token` with `X-API-KEY`; stop, keep-alive and list with the same key."""

    name = "liveavatar"
    key_header = "X-API-KEY"

    async def create_session(self, request: SessionRequest) -> ProviderSession:
        avatar = request.avatar
        settings: dict[str, Any] = avatar.voice.get("settings") or {}
        mode = _MODES.get(str(settings.get("mode", "LITE")).upper())
        if mode is None:
            raise ProviderError(self.name, f"unknown mode {settings.get('mode')!r}: use FULL or LITE")
        if not avatar.provider_avatar_id:
            raise ProviderError(self.name, "the avatar has no provider_avatar_id (a LiveAvatar avatar id)")
        video: dict[str, Any] = {"quality": avatar.quality}
        if settings.get("video_encoding"):
            video["encoding"] = settings["video_encoding"]
        body: dict[str, Any] = {
            "mode": mode,
            "avatar_id": avatar.provider_avatar_id,
            "is_sandbox": bool(settings.get("sandbox", False)),
            "video_settings": video,
        }
        if mode == "FULL":
            body.update(await self._full_mode(request, settings))
        answer = await self._http.call("POST", "/v1/sessions/token", json_body=body)
        if isinstance(answer, dict) and answer.get("code") not in _SUCCESS_CODES:
            log.warning("liveavatar token answered code %r", answer.get("code"))
        session_id = require_str(self.name, answer, "session_id")
        session_token = require_str(self.name, answer, "session_token")
        return ProviderSession(
            provider=self.name,
            provider_session_id=session_id,
            credentials={
                "kind": "liveavatar",
                "mode": mode,
                "api_base": self._http.base_url,
                "session_id": session_id,
                "session_token": session_token,
            },
            raw={"session_id": session_id, "mode": mode},
        )

    async def _full_mode(self, request: SessionRequest, settings: dict[str, Any]) -> dict[str, Any]:
        base_url, key = request.chat_completions_base_url, request.chat_api_key
        if not base_url or not key:
            raise ProviderError(
                self.name,
                "FULL mode needs our chat-completions URL (PUBLIC_API_BASE) and an avatar API key;"
                " without them LiveAvatar would answer without the avatar's knowledge: use LITE instead",
            )
        avatar = request.avatar
        persona: dict[str, Any] = {"language": avatar.language}
        if avatar.voice.get("voice_id"):
            persona["voice_id"] = avatar.voice["voice_id"]
        persona.update({key: settings[key] for key in _PERSONA_SETTINGS if key in settings})
        full: dict[str, Any] = {
            "avatar_persona": persona,
            "max_session_duration": avatar.max_session_seconds,
            "llm_configuration_id": await self._llm_configuration(request, base_url, key, settings),
        }
        if settings.get("interactivity_type"):
            full["interactivity_type"] = settings["interactivity_type"]
        return full

    async def _llm_configuration(
        self, request: SessionRequest, base_url: str, key: str, settings: dict[str, Any]
    ) -> str:
        """A custom LLM configuration pointing at our chat completions, its key stored as a secret."""
        label = f"avatar-studio-{request.session_id}"
        secret = await self._http.call(
            "POST",
            "/v1/secrets",
            json_body={"secret_type": "LLM_API_KEY", "secret_value": key, "secret_name": label},
        )
        secret_id = require_str(self.name, secret, "id", "secret_id")
        model = str(settings.get("llm_model") or f"avatar-{request.avatar.avatar_id}")
        common = {"display_name": label, "secret_id": secret_id, "base_url": base_url}
        # The OpenAPI path and field; the agent-skills guide spells them llm-configurations and model.
        created = await self._http.call(
            "POST",
            "/v1/llm_configurations",
            json_body={**common, "model_name": model},
            already_done=frozenset({404}),
        )
        if created is None:
            created = await self._http.call(
                "POST", "/v1/llm-configurations", json_body={**common, "model": model}
            )
        return require_str(self.name, created, "id", "llm_configuration_id")

    async def keep_alive(self, provider_session_id: str) -> None:
        await self._http.call(
            "POST",
            "/v1/sessions/keep-alive",
            json_body={"session_id": provider_session_id},
            safe_to_retry=True,
        )

    async def stop_session(self, provider_session_id: str) -> None:
        await self._http.call(
            "POST",
            "/v1/sessions/stop",
            json_body={"session_id": provider_session_id, "reason": "USER_CLOSED"},
            safe_to_retry=True,
            already_done=frozenset({404, 410}),
        )

    async def list_sessions(self) -> list[LiveSession] | None:
        answer = await self._http.call("GET", "/v1/sessions", params={"type": "active"}, safe_to_retry=True)
        live: list[LiveSession] = []
        for item in _items(answer):
            session_id = item.get("session_id") or item.get("id")
            status = item.get("status")
            if not isinstance(session_id, str) or str(status).lower() in _ENDED_STATUSES:
                continue
            live.append(
                LiveSession(
                    provider_session_id=session_id,
                    status=None if status is None else str(status),
                    created_at=parse_time(item.get("created_at")),
                )
            )
        return live


def _items(answer: Any) -> list[dict[str, Any]]:
    """The sessions of a list answer: bare, in `data`, or paginated under `results`/`sessions`."""
    for _ in range(3):
        if isinstance(answer, list):
            return [item for item in answer if isinstance(item, dict)]
        if not isinstance(answer, dict):
            return []
        answer = next((answer[key] for key in ("data", "results", "sessions") if key in answer), None)
    return []
