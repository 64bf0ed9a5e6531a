"""The OpenAI-compatible chat client, tested at the HTTP boundary with a mock transport."""

import json
from collections.abc import AsyncIterator, Callable, Iterable

import httpx
import pytest

from functions.core.errors import ProviderError
from functions.core.llm.base import ChatMessage, ChatModel, TokenUsage, ToolCall
from functions.core.llm.openai_compat import OpenAICompatibleChat
from functions.core.retry import RetryPolicy

MESSAGES = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi?")]
KEY = "sk-test-not-a-real-key"


class Chunks(httpx.AsyncByteStream):
    """A response body delivered in the given pieces, optionally failing after them."""

    def __init__(self, parts: Iterable[bytes], fail: Exception | None = None) -> None:
        self.parts = list(parts)
        self.fail = fail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part
        if self.fail is not None:
            raise self.fail


def sse(*events: object, done: bool = True) -> bytes:
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return (text + ("data: [DONE]\n\n" if done else "")).encode()


def delta(content: str) -> dict[str, object]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}}],
    }


def ok(body: bytes, parts: int = 1) -> httpx.Response:
    size = max(1, len(body) // parts)
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(pieces))


Handler = Callable[[httpx.Request], httpx.Response]


class Harness:
    def __init__(self, *responses: httpx.Response | Exception | Handler) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def chat(self, api_key: str | None = KEY, attempts: int = 3, **kwargs: object) -> OpenAICompatibleChat:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return OpenAICompatibleChat(
            api_key=api_key,
            model="gpt-test",
            client=client,
            policy=RetryPolicy(attempts=attempts, sleep=self.sleep),
            **kwargs,  # type: ignore[arg-type]
        )


async def collect(model: ChatModel, **kwargs: int | float) -> list[str]:
    return [piece async for piece in model.stream(MESSAGES, **kwargs)]  # type: ignore[arg-type]


async def test_deltas_are_yielded_in_order_whatever_the_byte_boundaries() -> None:
    events = [
        delta("Héllo"),
        delta(", wörld"),
        delta("! 你好"),
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    ]
    body = sse(*events)
    for size in (1, 2, 3, 7, 64):
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        harness = Harness(
            httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(pieces))
        )
        assert await collect(harness.chat()) == ["Héllo", ", wörld", "! 你好"]


async def test_usage_only_chunks_comments_and_keep_alives_are_ignored() -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    body = b": keep-alive\n\nevent: message\nid: 1\n" + sse(delta("A"), delta(""), delta("B"), usage)
    harness = Harness(ok(body, parts=5))
    assert await collect(harness.chat()) == ["A", "B"]


async def test_nothing_after_done_is_read() -> None:
    body = sse(delta("A")) + sse(delta("never"), done=False)
    assert await collect(Harness(ok(body)).chat()) == ["A"]


async def test_a_stream_ending_without_done_still_yields_its_last_event() -> None:
    body = sse(delta("A"), done=False) + b'data: {"choices":[{"delta":{"content":"B"}}]}'
    assert await collect(Harness(ok(body)).chat()) == ["A", "B"]


async def test_a_server_that_ignores_stream_true_still_gives_its_answer() -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole answer."}}]}
    assert await collect(Harness(httpx.Response(200, json=body)).chat()) == ["Whole answer."]


async def test_the_request_carries_model_messages_stream_and_options() -> None:
    harness = Harness(ok(sse(delta("x"))))
    await collect(harness.chat(base_url="http://llm.local/v1/"), max_tokens=50, temperature=0.2)
    request = harness.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://llm.local/v1/chat/completions"
    assert json.loads(request.content) == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 50,
        "temperature": 0.2,
    }
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_no_authorization_header_is_sent_without_an_api_key() -> None:
    harness = Harness(ok(sse(delta("x"))))
    await collect(harness.chat(api_key=None))
    assert "authorization" not in harness.requests[0].headers
    assert "max_tokens" not in json.loads(harness.requests[0].content)


async def test_repeated_503s_give_up_with_the_status_and_body_kept() -> None:
    failure = {"error": {"message": "The server had an error", "type": "server_error"}}
    harness = Harness(httpx.Response(503, json=failure), httpx.Response(503, json=failure))
    with pytest.raises(ProviderError) as caught:
        await collect(harness.chat(attempts=2))
    assert len(harness.requests) == 2
    error = caught.value
    assert error.provider == "openai"
    assert error.provider_status == 503
    assert error.status == 502
    assert error.body == failure
    assert "The server had an error" in error.detail


async def test_a_long_error_body_is_truncated() -> None:
    harness = Harness(httpx.Response(400, text="x" * 10_000))
    with pytest.raises(ProviderError) as caught:
        await collect(harness.chat())
    assert caught.value.body == "x" * 2000


async def test_401_is_not_retried_and_the_key_does_not_leak() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
    harness = Harness(httpx.Response(401, json=body))
    with pytest.raises(ProviderError) as caught:
        await collect(harness.chat())
    assert len(harness.requests) == 1
    assert harness.sleeps == []
    assert caught.value.provider_status == 401
    assert caught.value.status == 502
    assert KEY not in caught.value.detail
    assert KEY not in json.dumps(caught.value.body)
    assert KEY not in repr(harness.chat())


async def test_a_timeout_before_the_answer_is_retried_then_becomes_a_503_provider_error() -> None:
    harness = Harness(*[httpx.ReadTimeout("read timed out") for _ in range(3)])
    with pytest.raises(ProviderError) as caught:
        await collect(harness.chat())
    assert len(harness.requests) == 3
    assert caught.value.provider_status is None
    assert caught.value.status == 503
    assert caught.value.problem()["provider"] == "openai"


async def test_connection_errors_are_retried_then_become_503() -> None:
    refused = httpx.ConnectError("connection refused")
    harness = Harness(refused, ok(sse(delta("ok"))))
    assert await collect(harness.chat(provider="ollama")) == ["ok"]
    assert len(harness.requests) == 2

    harness = Harness(refused, refused, refused)
    with pytest.raises(ProviderError) as caught:
        await collect(harness.chat(provider="ollama"))
    assert len(harness.requests) == 3
    assert caught.value.status == 503
    assert caught.value.provider == "ollama"


async def test_a_failure_after_the_first_delta_raises_without_retrying() -> None:
    broken = httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        stream=Chunks([sse(delta("Hel"), done=False)], fail=httpx.ReadError("connection reset")),
    )
    harness = Harness(broken, ok(sse(delta("never"))))
    seen: list[str] = []

    async def consume() -> None:
        async for piece in harness.chat().stream(MESSAGES):
            seen.append(piece)

    with pytest.raises(ProviderError) as caught:
        await consume()
    assert seen == ["Hel"]
    assert len(harness.requests) == 1
    assert caught.value.status == 503


async def test_an_error_object_inside_the_stream_raises() -> None:
    body = sse(delta("A"), {"error": {"message": "overloaded"}})
    with pytest.raises(ProviderError, match="overloaded"):
        await collect(Harness(ok(body)).chat())


async def test_a_malformed_chunk_raises() -> None:
    with pytest.raises(ProviderError, match="malformed"):
        await collect(Harness(ok(b"data: {not json\n\n")).chat())


# --- tool calls ------------------------------------------------------------------------------------
# The streamed shape of OpenAI's chat completions API reference ("Chat Completions / streaming"):
# `choices[0].delta.tool_calls` holds fragments keyed by `index`; the first of a call carries its `id`,
# `type` and `function.name`, the following ones pieces of `function.arguments`; `finish_reason` is
# "tool_calls".

LOOKUP = {"type": "function", "function": {"name": "order_status", "parameters": {"type": "object"}}}


def call_fragment(index: int, *, id: str | None = None, name: str | None = None, arguments: str = "") -> dict:
    fragment: dict[str, object] = {"index": index, "function": {"arguments": arguments}}
    if id is not None:
        fragment.update({"id": id, "type": "function"})
        fragment["function"] = {"name": name, "arguments": arguments}
    return {"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}, "finish_reason": None}]}


async def turn(chat: OpenAICompatibleChat) -> list[object]:
    return [piece async for piece in chat.stream_turn(MESSAGES, [LOOKUP])]


async def test_parallel_tool_calls_are_assembled_from_their_fragments_after_the_text() -> None:
    body = sse(
        delta("One moment."),
        call_fragment(0, id="call_a", name="order_status", arguments=""),
        call_fragment(1, id="call_b", name="order_status", arguments='{"ord'),
        call_fragment(0, arguments='{"order": '),
        call_fragment(1, arguments='er": "A-2"}'),
        call_fragment(0, arguments='"A-1"}'),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    )
    for parts in (1, 3, 40):
        harness = Harness(ok(body, parts=parts))
        pieces = await turn(harness.chat())
        assert pieces[0] == "One moment."
        assert pieces[1:] == [
            ToolCall(id="call_a", name="order_status", arguments='{"order": "A-1"}'),
            ToolCall(id="call_b", name="order_status", arguments='{"order": "A-2"}'),
        ]
        sent = json.loads(harness.requests[0].content)
        assert sent["tools"] == [LOOKUP]


async def test_a_conversation_with_tool_results_is_sent_in_the_api_shape() -> None:
    harness = Harness(ok(sse(delta("It shipped."))))
    call = ToolCall(id="call_a", name="order_status", arguments='{"order": "A-1"}')
    messages = [
        *MESSAGES,
        ChatMessage(role="assistant", content="", tool_calls=[call]),
        ChatMessage(role="tool", content='{"status": "shipped"}', tool_call_id="call_a"),
    ]
    pieces = [piece async for piece in harness.chat().stream_turn(messages, [LOOKUP])]
    assert pieces == ["It shipped."]
    sent = json.loads(harness.requests[0].content)["messages"]
    assert sent[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "order_status", "arguments": '{"order": "A-1"}'},
            }
        ],
    }
    assert sent[3] == {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_a"}
    assert sent[0] == {"role": "system", "content": "Be brief."}


async def test_without_tools_no_tools_are_sent_and_fragments_are_ignored() -> None:
    harness = Harness(ok(sse(delta("Hi."), call_fragment(0, id="x", name="order_status"))))
    assert await collect(harness.chat()) == ["Hi."]
    assert "tools" not in json.loads(harness.requests[0].content)


def refusal(param: str, code: str) -> httpx.Response:
    """OpenAI's 400 for a parameter the model does not take (its `invalid_request_error` body)."""
    return httpx.Response(
        400,
        json={
            "error": {
                "message": f"Unsupported parameter: '{param}' is not supported with this model.",
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        },
    )


@pytest.mark.parametrize("model", ["gpt-5-mini", "o3-mini", "openai/o4-mini"])
async def test_reasoning_models_get_max_completion_tokens_and_no_temperature(model: str) -> None:
    harness = Harness(ok(sse(delta("x"))))
    chat = OpenAICompatibleChat(
        api_key=KEY, model=model, client=httpx.AsyncClient(transport=httpx.MockTransport(harness.handle))
    )
    await collect(chat, max_tokens=50, temperature=0.2)
    sent = json.loads(harness.requests[0].content)
    assert sent["max_completion_tokens"] == 50
    assert "max_tokens" not in sent
    assert "temperature" not in sent


async def test_a_refused_parameter_is_dropped_once_and_for_every_later_turn() -> None:
    harness = Harness(
        refusal("max_tokens", "unsupported_parameter"),
        refusal("temperature", "unsupported_value"),
        ok(sse(delta("first"))),
        ok(sse(delta("second"))),
    )
    chat = harness.chat()
    assert await collect(chat, max_tokens=50, temperature=0.2) == ["first"]
    assert await collect(chat, max_tokens=50, temperature=0.2) == ["second"]
    bodies = [json.loads(request.content) for request in harness.requests]
    assert [("max_tokens" in b, "max_completion_tokens" in b, "temperature" in b) for b in bodies] == [
        (True, False, True),
        (False, True, True),
        (False, True, False),
        (False, True, False),
    ]
    assert harness.sleeps == []


async def test_another_400_is_not_retried() -> None:
    harness = Harness(refusal("messages", "invalid_value"))
    with pytest.raises(ProviderError) as raised:
        await collect(harness.chat(), max_tokens=50)
    assert raised.value.provider_status == 400
    assert len(harness.requests) == 1


async def test_the_token_usage_of_the_final_chunk_is_reported() -> None:
    # OpenAI's chat streaming reference: with stream_options.include_usage, one last chunk before [DONE]
    # has empty `choices` and the request's `usage` (prompt_tokens, completion_tokens, total_tokens).
    final = {
        "id": "c1",
        "choices": [],
        "usage": {"prompt_tokens": 57, "completion_tokens": 9, "total_tokens": 66},
    }
    harness = Harness(ok(sse(delta("Hi"), delta(" there."), final), parts=3))
    usage = TokenUsage()
    pieces = [piece async for piece in harness.chat().stream(MESSAGES, usage=usage)]
    assert "".join(pieces) == "Hi there."
    assert (usage.prompt_tokens, usage.completion_tokens) == (57, 9)


async def test_a_stream_without_usage_leaves_the_counts_unknown() -> None:
    usage = TokenUsage()
    assert [p async for p in Harness(ok(sse(delta("Hi.")))).chat().stream(MESSAGES, usage=usage)] == ["Hi."]
    assert (usage.prompt_tokens, usage.completion_tokens) == (None, None)


async def test_the_usage_of_every_request_of_a_tool_turn_adds_up() -> None:
    first = {"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 7}}
    second = {"choices": [], "usage": {"prompt_tokens": 80, "completion_tokens": 12}}
    harness = Harness(
        ok(sse(call_fragment(0, id="call_a", name="order_status", arguments="{}"), first)),
        ok(sse(delta("Done."), second)),
    )
    usage = TokenUsage()
    chat = harness.chat()
    assert [p async for p in chat.stream_turn(MESSAGES, [LOOKUP], usage=usage)][-1].name == "order_status"
    assert [p async for p in chat.stream_turn(MESSAGES, [LOOKUP], usage=usage)] == ["Done."]
    assert (usage.prompt_tokens, usage.completion_tokens) == (130, 19)
