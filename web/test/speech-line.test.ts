import assert from "node:assert/strict";
import { test } from "node:test";
import { SpeechLine, type Delivery } from "../src/adapters/cloud/speech-line";
import type { AdapterEvents } from "../src/lib/adapter";
import { Emitter } from "../src/lib/events";
import { settle } from "./waiting";

/** A provider that is handed sentences and finishes them only when told to. */
function provider(inFlight: number, prepare: (text: string) => Promise<string> = async (text) => text) {
  const handed: string[] = [];
  const speaking: { text: string; finish(): void; delivery: Delivery }[] = [];
  let halts = 0;
  const events = new Emitter<AdapterEvents>();
  const seen: string[] = [];
  events.on("speaking", () => seen.push("speaking"));
  events.on("idle", () => seen.push("idle"));
  events.on("error", (error) => seen.push(`error:${error.message}`));
  const line = new SpeechLine<string>(
    {
      prepare,
      deliver: (text, delivery) =>
        new Promise<void>((resolve) => {
          handed.push(text);
          speaking.push({ text, finish: resolve, delivery });
          delivery.started();
        }),
      halt: () => (halts += 1),
    },
    events,
    inFlight,
  );
  return { line, handed, speaking, seen, halts: () => halts };
}

test("sentences are handed over in order, at most `inFlight` before the first is spoken", async () => {
  const { line, handed, speaking, seen } = provider(2);
  const results = ["one", "two", "three", "four"].map((text) => line.speak(text));
  await settle();
  assert.deepEqual(handed, ["one", "two"]);
  speaking[0].finish();
  await settle();
  assert.deepEqual(handed, ["one", "two", "three"]);
  for (const item of speaking.slice(1)) item.finish();
  await settle();
  speaking[3].finish();
  assert.deepEqual(await Promise.all(results), [true, true, true, true]);
  assert.deepEqual(seen, ["speaking", "idle"]);
});

test("a sentence prepared late still waits for the ones before it", async () => {
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  const { line, handed } = provider(3, async (text) => {
    if (text === "first") await slow;
    return text;
  });
  void line.speak("first");
  void line.speak("second");
  await settle();
  assert.deepEqual(handed, []);
  release();
  await settle();
  assert.deepEqual(handed, ["first", "second"]);
});

test("interrupt halts the provider once, discards the queue and never sends what was still here", async () => {
  const { line, handed, speaking, seen, halts } = provider(1);
  const results = ["one", "two", "three"].map((text) => line.speak(text));
  await settle();
  line.interrupt();
  speaking[0].finish();
  await settle();
  assert.deepEqual(await Promise.all(results), [false, false, false]);
  assert.deepEqual(handed, ["one"]);
  assert.equal(halts(), 1);
  assert.ok(speaking[0].delivery.signal.aborted);
  assert.deepEqual(seen, ["speaking", "idle"]);
});

test("a sentence whose speech cannot be prepared is reported and skipped", async () => {
  const { line, handed, speaking, seen } = provider(2, async (text) => {
    if (text === "bad") throw new Error("no voice");
    return text;
  });
  const results = ["bad", "good"].map((text) => line.speak(text));
  await settle();
  speaking[0].finish();
  assert.deepEqual(await Promise.all(results), [false, true]);
  assert.deepEqual(handed, ["good"]);
  assert.deepEqual(seen, ["error:no voice", "speaking", "idle"]);
});
