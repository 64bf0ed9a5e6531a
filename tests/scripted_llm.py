"""A scripted OpenAI-compatible chat server for tests and benchmarks: real HTTP, known timing.

It answers `POST /embeddings` (any prefix) in OpenAI's documented shape
(platform.openai.com/docs/api-reference/embeddings/create: `{"object": "list", "data": [{"object":
"embedding", "index", "embedding"}], "model", "usage"}`) with `EMBEDDING_DIMENSIONS` floats per input,
a normalised hash of its words (texts sharing words are near), as a keyed deployment's embedding
service would answer. Any other `POST` is a `/chat/completions`: a reply chosen by `reply_for(messages)`,
streamed as `chat.completion.chunk` events after `ttft_s`, at `tokens_per_second`, one word per token
with its leading space, as LLM APIs stream them (" It", " ships", "."-ended words).
It can refuse (`fail_status`) or drop the connection after some tokens (`drop_after_tokens`), and it
records each request and, per request, when the token that completed the first sentence was sent
(`time.monotonic`, comparable across processes on one machine).
"""

import asyncio
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REPLY = (
    "Interactive Avatar Studio answers from your knowledge base. "
    "It streams each sentence as soon as it is complete, so the avatar starts speaking early. "
    "Every conversation is recorded per user."
)
_TOKEN = re.compile(r"\s*\S+")
_SENTENCE_END = re.compile(r"[.!?]\s*$")
# text-embedding-3-small's length, the default EMBEDDING_MODEL's (the schema indexes it as vector(1536)).
EMBEDDING_DIMENSIONS = 1536
_WORD = re.compile(r"\w+")


def _default_reply(messages: list[dict[str, Any]]) -> str:
    return DEFAULT_REPLY


@dataclass
class Script:
    ttft_s: float = 0.0
    tokens_per_second: float = 0.0  # 0: as fast as the socket takes them
    reply_for: Callable[[list[dict[str, Any]]], str] = _default_reply
    fail_status: int | None = None
    fail_body: dict[str, Any] = field(
        default_factory=lambda: {"error": {"message": "scripted failure", "type": "server_error"}}
    )
    drop_after_tokens: int | None = None
    # Tool calls to make instead of replying, as (name, JSON arguments) pairs; None replies with text.
    tool_calls_for: Callable[[list[dict[str, Any]]], list[tuple[str, str]] | None] | None = None


@dataclass
class Record:
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float
    first_sentence_sent_at: float | None = None
    finished_at: float | None = None


class ScriptedLLM:
    """Runs in a thread with its own event loop; `url` is the base URL to give as LLM_BASE_URL."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.records: list[Record] = []
        self.embedded_texts = 0  # inputs answered by /embeddings (they are not chat records)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name="scripted-llm", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "ScriptedLLM":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                path = request_line.split(b" ")[1].split(b"?")[0] if b" " in request_line else b""
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))) or b"{}")
                if path.endswith(b"/embeddings"):
                    await self._embeddings(body, writer)
                    continue
                record = Record(body=body, headers=headers, received_at=time.monotonic())
                self.records.append(record)
                if not await self._respond(record, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._connections.discard(task)
            writer.close()

    async def _embeddings(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else list(texts)
        self.embedded_texts += len(texts)
        words = sum(len(_WORD.findall(text)) for text in texts)
        payload = json.dumps(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": n, "embedding": embedding(text)}
                    for n, text in enumerate(texts)
                ],
                "model": body.get("model", "text-embedding-3-small"),
                "usage": {"prompt_tokens": words, "total_tokens": words},
            }
        ).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    async def _respond(self, record: Record, writer: asyncio.StreamWriter) -> bool:
        script = self.script
        if script.fail_status is not None:
            payload = json.dumps(script.fail_body).encode()
            writer.write(
                f"HTTP/1.1 {script.fail_status} Scripted\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            return True
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        if script.ttft_s:
            await asyncio.sleep(script.ttft_s)
        messages = record.body.get("messages", [])
        calls = (
            script.tool_calls_for(messages) if script.tool_calls_for and record.body.get("tools") else None
        )
        if calls:
            await self._call_tools(record, writer, calls)
            return True
        tokens = _TOKEN.findall(script.reply_for(messages))
        gap = 1 / script.tokens_per_second if script.tokens_per_second else 0.0
        for n, token in enumerate(tokens):
            if script.drop_after_tokens is not None and n >= script.drop_after_tokens:
                writer.transport.abort()
                return False
            chunk = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "model": record.body.get("model", "scripted"),
                "choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}],
            }
            _write_chunk(writer, f"data: {json.dumps(chunk)}\n\n".encode())
            await writer.drain()
            if record.first_sentence_sent_at is None and _SENTENCE_END.search(token):
                record.first_sentence_sent_at = time.monotonic()
            if gap and n + 1 < len(tokens):
                await asyncio.sleep(gap)
        if (record.body.get("stream_options") or {}).get("include_usage"):
            # OpenAI's shape: a last chunk with no choices and the request's token counts.
            prompt = sum(
                len(_TOKEN.findall(str(m.get("content", "")))) for m in record.body.get("messages", [])
            )
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": len(tokens),
                "total_tokens": prompt + len(tokens),
            }
            final = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": usage,
            }
            _write_chunk(writer, f"data: {json.dumps(final)}\n\n".encode())
        _write_chunk(writer, b"data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        record.finished_at = time.monotonic()
        return True

    async def _call_tools(
        self, record: Record, writer: asyncio.StreamWriter, calls: list[tuple[str, str]]
    ) -> None:
        """Tool calls streamed as OpenAI's API streams them: per call (by `index`) a first fragment with
        its id and name, then its arguments in two pieces, interleaved; finish_reason "tool_calls"."""
        fragments: list[dict[str, Any]] = []
        for index, (name, _) in enumerate(calls):
            call_id = f"call_{len(self.records)}_{index}"
            head = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            fragments.append(head)
        half = [len(arguments) // 2 for _, arguments in calls]
        for index, (_, arguments) in enumerate(calls):
            fragments.append({"index": index, "function": {"arguments": arguments[: half[index]]}})
        for index, (_, arguments) in enumerate(calls):
            fragments.append({"index": index, "function": {"arguments": arguments[half[index] :]}})
        for fragment in fragments:
            chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}, "finish_reason": None}]}
            _write_chunk(writer, f"data: {json.dumps(chunk)}\n\n".encode())
        finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
        _write_chunk(writer, f"data: {json.dumps(finish)}\n\ndata: [DONE]\n\n".encode())
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        record.finished_at = time.monotonic()


def calls_then_reply(
    *calls: tuple[str, str],
) -> Callable[[list[dict[str, Any]]], list[tuple[str, str]] | None]:
    """A `tool_calls_for` that makes the calls once per turn, then answers once their results are in."""

    def decide(messages: list[dict[str, Any]]) -> list[tuple[str, str]] | None:
        return None if messages and messages[-1].get("role") == "tool" else list(calls)

    return decide


def embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A unit vector of `text`: each lower-cased word adds ±1 at a place its hash picks."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vector[digest % dimensions] += 1.0 if digest >> 63 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def main() -> None:
    """Serve in a process of its own (for benchmarks) until SIGTERM, then write the records as JSON."""
    import argparse
    import signal
    from dataclasses import asdict
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-second", type=float, default=0.0)
    parser.add_argument("--port-file", type=Path, required=True, help="where to write the port once serving")
    parser.add_argument("--records", type=Path, required=True, help="where to write the records on SIGTERM")
    parser.add_argument(
        "--tool-call", nargs=2, metavar=("NAME", "ARGUMENTS"), help="call this tool once per turn"
    )
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    script = Script(
        ttft_s=args.ttft_ms / 1000,
        tokens_per_second=args.tokens_per_second,
        tool_calls_for=calls_then_reply(tuple(args.tool_call)) if args.tool_call else None,
    )
    with ScriptedLLM(script) as llm:
        args.port_file.write_text(str(llm.port))
        stop.wait()
        records = [asdict(r) for r in llm.records]
    args.records.write_text(json.dumps(records))


if __name__ == "__main__":
    main()
