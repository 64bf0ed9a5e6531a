"""Every client that calls a provider sends through the one retry policy (`functions.core.retry`).

Each one talks real HTTP to a server on loopback that first answers 503 with `Retry-After: 1`, or
does not answer at all (the client's timeout passes), then answers as the provider documents. The
policy's sleeper is injected: the wait it was asked for is recorded, not slept.

Documented answers: OpenAI chat completions streaming (platform.openai.com/docs/api-reference/chat-streaming),
embeddings (.../embeddings/object), transcriptions (.../audio/createTranscription, `response_format:
json`); ElevenLabs streaming text to speech (elevenlabs.io/docs/api-reference/text-to-speech/stream:
audio bytes); a JWK Set (RFC 7517 §5); HeyGen's `GET /v1/streaming.list`.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from functions.core.api.app import create_app
from functions.core.auth.jwks import JwksCache
from functions.core.http_client import app_clients
from functions.core.llm.base import ChatMessage
from functions.core.llm.embeddings import OpenAIEmbeddings
from functions.core.llm.openai_compat import OpenAICompatibleChat
from functions.core.providers.avatar.heygen import HeyGenProvider
from functions.core.retry import RetryPolicy
from functions.core.speech.elevenlabs import ElevenLabsTts
from functions.core.speech.stt import OpenAITranscriber
from tests.functional.loopback import Reply, loopback_endpoint

KEY = "sk-loopback-not-a-real-key"
TIMEOUT_S = 0.5  # the stalled first answer takes this long to give up on


@dataclass
class Client:
    """How to call one client against `url`, and the provider's documented success answer."""

    call: Callable[[str, httpx.AsyncClient, RetryPolicy], Awaitable[object]]
    answer: bytes
    content_type: str = "application/json"


async def chat(url: str, client: httpx.AsyncClient, policy: RetryPolicy) -> object:
    model = OpenAICompatibleChat(
        api_key=KEY, base_url=url, model="gpt-4o-mini", client=client, timeout_s=TIMEOUT_S, policy=policy
    )
    return [piece async for piece in model.stream([ChatMessage(role="user", content="Hi")])]


async def embeddings(url: str, client: httpx.AsyncClient, policy: RetryPolicy) -> object:
    embedder = OpenAIEmbeddings(
        api_key=KEY, client=client, base_url=url, timeout_s=TIMEOUT_S, policy=policy, query_policy=policy
    )
    return await embedder.embed_query("warranty")


async def transcription(url: str, client: httpx.AsyncClient, policy: RetryPolicy) -> object:
    transcriber = OpenAITranscriber(
        api_key=KEY, client=client, base_url=url, timeout_s=TIMEOUT_S, policy=policy
    )
    return await transcriber.transcribe(b"\x1aE\xdf\xa3 webm", filename="a.webm", content_type="audio/webm")


async def elevenlabs(url: str, client: httpx.AsyncClient, policy: RetryPolicy) -> object:
    tts = ElevenLabsTts(api_key=KEY, client=client, base_url=url, timeout_s=TIMEOUT_S, policy=policy)
    return b"".join(
        [chunk async for chunk in tts.stream("Hi.", voice_id="v1", output_format="mp3_44100_128")]
    )


async def jwks(url: str, client: httpx.AsyncClient, policy: RetryPolicy) -> object:
    cache = JwksCache(
        url + "/auth/v1/.well-known/jwks.json", 600, client=client, policy=policy, timeout_s=TIMEOUT_S
    )
    return await cache.key_for("k1", "HS256")


async def avatar_provider(url: str, client: httpx.AsyncClient, policy: RetryPolicy) -> object:
    heygen = HeyGenProvider(api_key=KEY, base_url=url, timeout=TIMEOUT_S, client=client, policy=policy)
    return await heygen.list_sessions()


CHUNK = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
CHAT_STREAM = f"data: {json.dumps(CHUNK)}\n\ndata: [DONE]\n\n".encode()
CLIENTS = {
    "openai chat": Client(chat, CHAT_STREAM, "text/event-stream"),
    "openai embeddings": Client(
        embeddings, json.dumps({"object": "list", "data": [{"index": 0, "embedding": [0.5]}]}).encode()
    ),
    "openai transcription": Client(transcription, b'{"text": "hello"}'),
    "elevenlabs": Client(elevenlabs, b"ID3 mp3 audio", "audio/mpeg"),
    "jwks": Client(
        jwks, json.dumps({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": "c2VjcmV0"}]}).encode()
    ),
    "avatar providers": Client(
        avatar_provider,
        json.dumps(
            {
                "code": 100,
                "data": {"sessions": [{"session_id": "s1", "status": "connected"}]},
                "message": "Success",
            }
        ).encode(),
    ),
}


async def run(client: Client, first: Reply) -> tuple[int, list[float]]:
    """Requests seen and waits asked for when the provider's first answer is `first`."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with loopback_endpoint() as endpoint:
        endpoint.headers = {"content-type": client.content_type}
        endpoint.answer = lambda _request: client.answer
        endpoint.script = [first]
        async with httpx.AsyncClient() as http:
            assert await client.call(endpoint.url, http, RetryPolicy(sleep=sleep))
        return len(endpoint.seen), waits


@pytest.mark.parametrize("name", sorted(CLIENTS))
async def test_a_503_is_retried_after_the_retry_after_seconds(name: str) -> None:
    seen, waits = await run(CLIENTS[name], Reply(503, {"retry-after": "1"}))
    assert (seen, waits) == (2, [1.0])


@pytest.mark.parametrize("name", sorted(CLIENTS))
async def test_a_timeout_is_retried_after_the_backoff(name: str) -> None:
    seen, waits = await run(CLIENTS[name], Reply(stall=True))
    backoff = RetryPolicy()
    assert seen == 2
    assert len(waits) == 1
    assert backoff.base_s / 2 <= waits[0] <= backoff.base_s


def test_the_app_holds_the_client_factory_and_closes_its_clients_when_it_shuts_down() -> None:
    app = create_app([])
    factory = app.state.http_clients
    assert factory is app_clients()

    async def a_client() -> httpx.AsyncClient:
        return factory.client("llm")

    with TestClient(app) as served:
        client = served.portal.call(a_client)
        assert not client.is_closed
    assert client.is_closed
