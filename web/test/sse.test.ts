import assert from "node:assert/strict";
import { test } from "node:test";
import { readEvents, SseParser } from "../src/lib/sse";

test("events split across chunk boundaries are reassembled", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.feed("event: sent"), []);
  assert.deepEqual(parser.feed('ence\ndata: {"index":0,'), []);
  assert.deepEqual(parser.feed('"text":"Hi."}\n'), []);
  assert.deepEqual(parser.feed("\n"), [{ event: "sentence", data: '{"index":0,"text":"Hi."}' }]);
});

test("multi-line data is joined with newlines and comments are ignored", () => {
  const parser = new SseParser();
  const events = parser.feed(": keep-alive\ndata: first\ndata:second\n\n");
  assert.deepEqual(events, [{ event: "message", data: "first\nsecond" }]);
});

test("CRLF line endings work even when CR and LF land in different chunks", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.feed("event: done\r\ndata: {}\r"), []);
  assert.deepEqual(parser.feed("\n\r\n"), [{ event: "done", data: "{}" }]);
});

test("an event without its closing blank line at the end of the stream is dropped", async () => {
  const bytes = new TextEncoder().encode("event: user\ndata: 1\n\nevent: delta\ndata: 2\n");
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, 7));
      controller.enqueue(bytes.slice(7));
      controller.close();
    },
  });
  const events = [];
  for await (const event of readEvents(body)) events.push(event);
  assert.deepEqual(events, [{ event: "user", data: "1" }]);
});

test("multi-byte characters split between chunks decode intact", async () => {
  const bytes = new TextEncoder().encode("data: café ☕\n\n");
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
      controller.close();
    },
  });
  const events = [];
  for await (const event of readEvents(body)) events.push(event.data);
  assert.deepEqual(events, ["café ☕"]);
});
