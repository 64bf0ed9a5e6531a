"""A fake provider at the HTTP boundary: routes answer canned or computed responses; requests are kept."""

import itertools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.providers import contracts

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: httpx.Headers
    body: Any
    params: dict[str, str]


class FakeProvider:
    """Serve `routes[(method, path)]` through an `httpx.MockTransport`; unknown routes answer 404."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Seen] = []
        # Live sessions by id with their creation time, for providers that list them.
        self.live: dict[str, datetime] = {}
        # Resources created at the provider (kind, id) -> the body that created them.
        self.resources: dict[tuple[str, str], Any] = {}
        # Routes matched by path prefix (a resource id at the end), by method.
        self.prefix_routes: dict[str, list[tuple[str, Handler]]] = {}
        self._lock = threading.Lock()

    def on(self, method: str, path: str, handler: Handler | httpx.Response) -> None:
        if isinstance(handler, httpx.Response):
            canned = handler
            self.routes[(method, path)] = lambda _request: httpx.Response(
                canned.status_code, headers=canned.headers, content=canned.content
            )
        else:
            self.routes[(method, path)] = handler

    def handle(self, request: httpx.Request) -> httpx.Response:
        body: Any = None
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body = request.content  # a multipart upload, say
        seen = Seen(request.method, request.url.path, request.headers, body, dict(request.url.params))
        with self._lock:
            self.requests.append(seen)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            handler = next(
                (
                    found
                    for prefix, found in self.prefix_routes.get(request.method, [])
                    if request.url.path.startswith(prefix)
                ),
                None,
            )
        if handler is None:
            return httpx.Response(404, json={"message": "not found"})
        return handler(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def kinds(self) -> list[str]:
        """The kinds of the resources still held at the provider, sorted."""
        with self._lock:
            return sorted(kind for kind, _ in self.resources)

    def calls(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.requests if (seen.method, seen.path) == (method, path)]


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("the fake provider did not answer", request=request)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


HEYGEN_KEY = "hg-key-0123456789"
HEYGEN_BASE = "https://heygen.test"
LIVEAVATAR_KEY = "la-key-0123456789"
LIVEAVATAR_BASE = "https://liveavatar.test"
SIMLI_KEY = "simli-key-0123456789"
TAVUS_KEY = "tavus-key-0123456789"


def checked(
    model: type[contracts.Strict] | Callable[[Any], type[contracts.Strict]], make: Handler
) -> Handler:
    """`make`, behind the provider's own validation: a body its schema refuses gets its 422."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        schema = model if isinstance(model, type) else model(body)
        return contracts.refusal(schema, body) or make(request)

    return handler


def _session_id(request: httpx.Request) -> str:
    return str(json.loads(request.content)["session_id"])


def _stop(fake: FakeProvider, session_id: str) -> None:
    with fake._lock:
        fake.live.pop(session_id, None)


def heygen_fake(*, wrapped: bool = True) -> FakeProvider:
    """HeyGen's `/v1/streaming.*`: `{code, message, data}` envelopes (or bare payloads when not `wrapped`)."""
    fake = FakeProvider()
    tokens = itertools.count(1)

    def answer(payload: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200, json={"code": 100, "message": "success", "data": payload} if wrapped else payload
        )

    def new(request: httpx.Request) -> httpx.Response:
        session_id = f"hg-{uuid.uuid4()}"
        fake.live[session_id] = datetime.now(UTC)
        return answer(
            {
                "session_id": session_id,
                "url": "wss://livekit.heygen.test",
                "access_token": "livekit-jwt",
                "realtime_endpoint": f"wss://signaling.heygen.test/{session_id}",
                "session_duration_limit": 600,
                "is_paid": True,
            }
        )

    def stop(request: httpx.Request) -> httpx.Response:
        session_id = _session_id(request)
        if session_id not in fake.live:
            # What HeyGen answers for a session it no longer has (PROVIDERS.md §0).
            return httpx.Response(400, json={"code": 400004, "message": "Session does not exist"})
        _stop(fake, session_id)
        return answer({"status": "success"})

    def listing(request: httpx.Request) -> httpx.Response:
        with fake._lock:
            sessions = [
                {"session_id": key, "status": "connected", "created_at": int(created.timestamp())}
                for key, created in fake.live.items()
            ]
        return answer({"sessions": sessions})

    fake.on(
        "POST",
        "/v1/streaming.create_token",
        lambda _request: answer({"token": f"session-token-{next(tokens)}"}),
    )
    fake.on("POST", "/v1/streaming.new", checked(contracts.HeyGenNewSession, new))
    fake.on("POST", "/v1/streaming.stop", checked(contracts.HeyGenSessionOnly, stop))
    fake.on(
        "POST", "/v1/streaming.keep_alive", checked(contracts.HeyGenSessionOnly, lambda _request: answer({}))
    )
    fake.on(
        "POST",
        "/v1/streaming.task",
        checked(contracts.HeyGenTask, lambda _request: answer({"duration_ms": 1200.0, "task_id": "t"})),
    )
    fake.on("GET", "/v1/streaming.list", listing)
    return fake


def liveavatar_fake(*, code: int = 1000, page_size: int = 20) -> FakeProvider:
    """LiveAvatar's API, answering success as `code` (100 in the OpenAPI, 1000 in the SDK).

    Request bodies are checked against the documented schemas (tests/providers/contracts.py) and refused
    with a 422 as the real API does. Secrets, LLM configurations, contexts and imported voices are kept
    in `fake.resources` until deleted, so a test can tell what a session left behind. The session list is
    paginated as documented (`page`, `page_size`, `next`).
    """
    fake = FakeProvider()

    def answer(payload: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json={"code": code, "message": "ok", "data": payload})

    def token(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        context_id = (body.get("avatar_persona") or {}).get("context_id")
        if context_id and ("context", context_id) not in fake.resources:
            return httpx.Response(404, json={"code": 404, "message": "context not found"})
        if body.get("llm_configuration_id") and ("llm", body["llm_configuration_id"]) not in fake.resources:
            return httpx.Response(404, json={"code": 404, "message": "LLM configuration not found"})
        session_id = str(uuid.uuid4())
        fake.live[session_id] = datetime.now(UTC)
        return answer({"session_id": session_id, "session_token": f"la-session-token-{session_id[:8]}"})

    def stop(request: httpx.Request) -> httpx.Response:
        _stop(fake, _session_id(request))
        return answer(None)

    def listing(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        size = min(100, int(request.url.params.get("page_size", str(page_size))))
        with fake._lock:
            everything = [
                {"id": key, "status": "CONNECTED", "created_at": created.isoformat()}
                for key, created in fake.live.items()
            ]
        results = everything[(page - 1) * size : page * size]
        more = page * size < len(everything)
        return answer(
            {
                "count": len(everything),
                "results": results,
                "next": f"{LIVEAVATAR_BASE}/v1/sessions?page={page + 1}" if more else None,
                "previous": None,
            }
        )

    def create(kind: str, **extra: Any) -> Handler:
        def handler(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            if kind == "llm" and ("secret", body["secret_id"]) not in fake.resources:
                return httpx.Response(400, json={"code": 400, "message": "secret is invalid"})
            if kind == "voice" and ("secret", body["secret_id"]) not in fake.resources:
                return httpx.Response(400, json={"code": 400, "message": "secret is invalid"})
            resource_id = contracts.new_id()
            with fake._lock:
                fake.resources[(kind, resource_id)] = body
            return answer({"id": resource_id, **body, **extra}, 201)

        return handler

    def delete(kind: str, prefix: str) -> Handler:
        def handler(request: httpx.Request) -> httpx.Response:
            resource_id = request.url.path.removeprefix(prefix)
            with fake._lock:
                found = fake.resources.pop((kind, resource_id), None)
            if found is None:
                return httpx.Response(404, json={"code": 404, "message": f"{kind} not found"})
            return answer(None)

        return handler

    fake.on("POST", "/v1/sessions/token", checked(contracts.liveavatar_token_model, token))
    fake.on("POST", "/v1/sessions/stop", checked(contracts.LiveAvatarStop, stop))
    fake.on(
        "POST",
        "/v1/sessions/keep-alive",
        checked(contracts.LiveAvatarKeepAlive, lambda _request: answer(None)),
    )
    fake.on("GET", "/v1/sessions", listing)
    fake.on("POST", "/v1/secrets", checked(contracts.LiveAvatarSecret, create("secret")))
    fake.on(
        "POST",
        "/v1/llm-configurations",
        checked(contracts.LiveAvatarLlmConfiguration, create("llm")),
    )
    fake.on("POST", "/v1/contexts", checked(contracts.LiveAvatarContext, create("context")))
    fake.on(
        "POST",
        "/v1/voices/third_party",
        checked(contracts.LiveAvatarThirdPartyVoice, create("voice")),
    )
    fake.prefix_routes["DELETE"] = [
        ("/v1/secrets/", delete("secret", "/v1/secrets/")),
        ("/v1/llm-configurations/", delete("llm", "/v1/llm-configurations/")),
        ("/v1/contexts/", delete("context", "/v1/contexts/")),
    ]
    return fake


SIMLI_BASE = "https://simli.test"
TAVUS_BASE = "https://tavus.test"


def simli_fake(ice: list[dict[str, Any]] | None = None) -> FakeProvider:
    """Simli's `/compose/token` (checked against `StartStreamingSessionRequest`) and `/compose/ice`."""
    fake = FakeProvider()
    tokens = itertools.count(1)
    fake.on(
        "POST",
        "/compose/token",
        checked(
            contracts.SimliToken,
            lambda _request: httpx.Response(200, json={"session_token": f"simli-token-{next(tokens)}"}),
        ),
    )
    fake.on(
        "GET",
        "/compose/ice",
        httpx.Response(200, json=[{"urls": ["stun:stun.simli.test:3478"]}] if ice is None else ice),
    )
    return fake


def tavus_fake(conversation_url: str = "https://tavus.daily.co/{id}") -> FakeProvider:
    """Tavus' conversations: create (checked against the reference), end, and the paginated active list.

    Ending an unknown or ended conversation answers `{"error": "Invalid conversation_id"}`, as Tavus does.
    """
    fake = FakeProvider()
    ids = itertools.count(1)

    def create(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        conversation_id = f"c{next(ids):06d}"
        fake.live[conversation_id] = datetime.now(UTC)
        return httpx.Response(
            200,
            json={
                "conversation_id": conversation_id,
                "conversation_name": body.get("conversation_name", ""),
                "conversation_url": conversation_url.format(id=conversation_id),
                "status": "active",
                "replica_id": body.get("replica_id"),
                "persona_id": body.get("persona_id"),
                "created_at": datetime.now(UTC).isoformat(),
            },
        )

    def end(request: httpx.Request) -> httpx.Response:
        conversation_id = request.url.path.split("/")[3]
        with fake._lock:
            found = fake.live.pop(conversation_id, None)
        if found is None:
            return httpx.Response(400, json={"error": "Invalid conversation_id"})
        return httpx.Response(200)

    def listing(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", "10"))
        page = int(request.url.params.get("page", "1"))
        with fake._lock:
            everything = [
                {"conversation_id": key, "status": "active", "created_at": created.isoformat()}
                for key, created in fake.live.items()
            ]
        return httpx.Response(
            200,
            json={"data": everything[(page - 1) * limit : page * limit], "total_count": len(everything)},
        )

    fake.on(
        "GET",
        "/v2/replicas",
        httpx.Response(200, json={"data": [{"replica_id": "r-stock"}], "total_count": 1}),
    )
    fake.on("POST", "/v2/conversations", checked(contracts.TavusConversation, create))
    fake.on("GET", "/v2/conversations", listing)
    fake.prefix_routes["POST"] = [("/v2/conversations/", end)]
    return fake


ELEVENLABS_BASE = "https://elevenlabs.test"
OPENAI_BASE = "https://openai.test/v1"


def elevenlabs_fake() -> FakeProvider:
    """ElevenLabs' `GET /v2/voices` and the streamed `POST /v1/text-to-speech/{voice_id}/stream`."""
    fake = FakeProvider()
    fake.on("GET", "/v2/voices", httpx.Response(200, json={"voices": [{"voice_id": "v-1", "name": "Ava"}]}))
    fake.on("POST", "/v1/text-to-speech/v-1/stream", httpx.Response(200, content=b"\x00\x00" * 8000))
    return fake


def openai_fake() -> FakeProvider:
    """OpenAI's chat completions (streamed), embeddings and transcriptions, at `OPENAI_BASE`."""
    fake = FakeProvider()
    chunk = {"choices": [{"index": 0, "delta": {"content": "OK"}}]}
    fake.on(
        "POST",
        "/v1/chat/completions",
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(),
        ),
    )
    fake.on(
        "POST",
        "/v1/embeddings",
        httpx.Response(200, json={"data": [{"index": 0, "embedding": [0.1] * 8}], "model": "m"}),
    )
    fake.on("POST", "/v1/audio/transcriptions", httpx.Response(200, json={"text": ""}))
    return fake


def routed(fakes: dict[str, FakeProvider]) -> httpx.AsyncClient:
    """One client reaching each fake by its host, as the real client reaches each provider."""

    def handle(request: httpx.Request) -> httpx.Response:
        return fakes[request.url.host].handle(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))
