import assert from "node:assert/strict";
import { test } from "node:test";
import { StubAdapter } from "../src/adapters/stub";
import { registerAdapter } from "../src/lib/adapter";
import { ApiClient } from "../src/lib/api";
import { ConversationController, type ConversationStatus } from "../src/lib/controller";
import { settle, until } from "./waiting";

function sse(events: [string, object][]): string {
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
}

interface Call {
  method: string;
  path: string;
  body: unknown;
  accept?: string;
  form?: FormData;
}

function fakeServer(turn: [string, object][], answers: Record<string, () => Response> = {}) {
  const calls: Call[] = [];
  const fetcher = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = new URL(String(input)).pathname;
    const headers = (init?.headers ?? {}) as Record<string, string>;
    calls.push({ method: init?.method ?? "GET", path, body: typeof init?.body === "string" ? JSON.parse(init.body) : null, accept: headers.accept });
    if (init?.body instanceof FormData) calls[calls.length - 1].form = init.body;
    const key = `${init?.method} ${path.replace(/turn-[\w-]+/, "{turn}")}`;
    if (answers[key]) return answers[key]();
    if (key === "POST /v1/sessions") {
      return Response.json({ session_id: "s1", provider: "stub", credentials: { greeting: "Hello there." } }, { status: 201 });
    }
    if (key === "POST /v1/sessions/s1/turns") {
      return new Response(sse(turn), { headers: { "content-type": "text/event-stream" } });
    }
    return Response.json({});
  };
  return { calls, api: new ApiClient("http://api.test", "tok", fetcher) };
}

const ANSWER: [string, object][] = [
  ["user", { turn_id: "t", message_id: "m1", text: "What is it?" }],
  ["sources", { sources: [{ index: 1, chunk_id: "c", document_id: "d", title: "Guide", excerpt: "…" }] }],
  ["delta", { text: "It is " }],
  ["sentence", { index: 0, text: "It is a studio." }],
  ["sentence", { index: 1, text: "It makes avatars." }],
  ["done", { assistant_message_id: "a1", reply: "It is a studio. It makes avatars.", timings: { retrieval_ms: 12, first_sentence_ms: 80 }, offline: true }],
];

async function started(turn: [string, object][], answers?: Record<string, () => Response>) {
  let adapter: StubAdapter | null = null;
  registerAdapter("stub", async () => (context) => (adapter = new StubAdapter(context)));
  const server = fakeServer(turn, answers);
  let clock = 0;
  const controller = new ConversationController({
    api: server.api,
    avatarId: "av1",
    stage: {} as HTMLElement,
    now: () => clock,
  });
  const statuses: ConversationStatus[] = [];
  controller.on("status", (status) => statuses.push(status));
  await controller.start();
  assert.ok(adapter);
  const stub: StubAdapter = adapter;
  return { controller, stub, statuses, calls: server.calls, advance: (ms: number) => (clock += ms) };
}

test("start opens the session, starts the adapter with its credentials and speaks the greeting", async () => {
  const { controller, stub, statuses, calls } = await started(ANSWER);
  assert.deepEqual(calls[0], { method: "POST", path: "/v1/sessions", body: { avatar_id: "av1" }, accept: "application/json" });
  assert.deepEqual(stub.credentials, { greeting: "Hello there." });
  assert.deepEqual(stub.calls, ["start", "speak:Hello there."]);
  assert.deepEqual(statuses, ["connecting", "listening", "speaking"]);
  await controller.end();
});

test("a turn streams sentences to the adapter in order and reports latency and the answer", async () => {
  const { controller, stub, statuses, calls, advance } = await started(ANSWER);
  stub.finishSentence();
  const sentences: string[] = [];
  const latencies: object[] = [];
  let answer: object | null = null;
  controller.on("sentence", ({ text }) => sentences.push(text));
  controller.on("latency", ({ latency }) => latencies.push(latency));
  let asked: string | null = null;
  controller.on("answer", (detail) => (answer = detail));
  controller.on("user", ({ turnId }) => (asked = turnId));
  const turn = controller.ask("What is it?");
  advance(150);
  await until(() => sentences.length === 2);
  const post = calls.find((call) => call.path === "/v1/sessions/s1/turns");
  assert.equal(post?.accept, "text/event-stream");
  assert.equal((post?.body as { text: string }).text, "What is it?");
  assert.deepEqual(sentences, ["It is a studio.", "It makes avatars."]);
  assert.equal(stub.current, "It is a studio.");
  stub.finishSentence();
  stub.finishSentence();
  await turn;
  assert.deepEqual(stub.spoken, ["Hello there.", "It is a studio.", "It makes avatars."]);
  assert.match(asked ?? "", /^turn-/);
  assert.deepEqual(answer, { turnId: asked, reply: "It is a studio. It makes avatars.", interrupted: false, heard: "", messageId: "a1" });
  assert.deepEqual(latencies.at(-1), { retrievalMs: 12, firstSentenceMs: 80, firstAudioMs: 150 });
  const audible = calls.filter((call) => call.path.endsWith("/audible"));
  assert.deepEqual(audible.map((call) => call.body), [{ first_audible_ms: 150 }]);
  assert.match(audible[0].path, /^\/v1\/sessions\/s1\/turns\/turn-[\w-]+\/audible$/);
  assert.deepEqual(statuses.slice(-3), ["thinking", "speaking", "listening"]);
  await controller.end();
});

test("interrupt stops the adapter, keeps what was heard and reports it, retrying once on 409", async (t) => {
  // The retry waits on setTimeout: the test moves that clock.
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let attempts = 0;
  const { controller, stub, calls } = await started(ANSWER, {
    "POST /v1/sessions/s1/turns/{turn}/interrupt": () => {
      attempts += 1;
      return attempts === 1
        ? Response.json({ status: 409, code: "turn_in_progress", detail: "not stored yet" }, { status: 409 })
        : Response.json({ assistant_message_id: "a1", heard_content: "It is a studio." });
    },
  });
  stub.finishSentence();
  let answer: { interrupted: boolean; heard: string } | null = null;
  let asked: string | null = null;
  let done = false;
  controller.on("answer", (detail) => (answer = detail));
  controller.on("user", ({ turnId }) => (asked = turnId));
  controller.on("latency", () => (done = true));
  const turn = controller.ask("What is it?");
  await until(() => done && stub.current === "It is a studio.");
  controller.interrupt();
  await turn;
  assert.deepEqual(answer, { turnId: asked, reply: "It is a studio. It makes avatars.", interrupted: true, heard: "It is a studio.", messageId: "a1" });
  assert.equal(stub.current, undefined);
  const reports = () => calls.filter((call) => call.path.endsWith("/interrupt"));
  await until(() => {
    t.mock.timers.tick(400);
    return reports().length === 2;
  });
  assert.deepEqual(reports()[0].path, `/v1/sessions/s1/turns/${asked}/interrupt`);
  assert.deepEqual(reports()[1].body, { heard_text: "It is a studio." });
  assert.equal(attempts, 2);
  assert.equal(controller.status, "listening");
  await controller.end();
});

test("end stops the adapter and ends the session once", async () => {
  const { controller, stub, calls } = await started(ANSWER);
  let ended = 0;
  controller.on("ended", () => (ended += 1));
  // Event names are checked: `tsc -p test` fails the day a misspelt one (or the dropped "ready") compiles.
  // @ts-expect-error: the controller has no "endded" event.
  controller.on("endded", () => (ended += 1));
  // @ts-expect-error: adapters have no "ready" event.
  stub.on("ready", () => (ended += 1));
  await controller.end();
  await controller.end();
  assert.ok(stub.calls.includes("stop"));
  assert.deepEqual(calls.filter((call) => call.path === "/v1/sessions/s1/end").map((call) => call.body), [{ reason: "user_ended" }]);
  assert.equal(controller.status, "ended");
  assert.equal(ended, 1);
});

test("a refused turn surfaces the server's error and returns to listening", async () => {
  const { controller, stub } = await started(ANSWER, {
    "POST /v1/sessions/s1/turns": () => Response.json({ status: 501, code: "stt_unavailable", detail: "no stt" }, { status: 501 }),
  });
  stub.finishSentence();
  const errors: string[] = [];
  controller.on("error", (error) => errors.push((error as { code?: string }).code ?? ""));
  await controller.askAudio(new Blob(["x"], { type: "audio/webm" }));
  assert.deepEqual(errors, ["stt_unavailable"]);
  assert.equal(controller.status, "listening");
  await controller.end();
});

test("an unknown provider fails the start with a clear error and ends", async () => {
  const server = fakeServer(ANSWER, {
    "POST /v1/sessions": () => Response.json({ session_id: "s2", provider: "nobody", credentials: {} }, { status: 201 }),
  });
  const controller = new ConversationController({ api: server.api, avatarId: "av1", stage: {} as HTMLElement });
  const errors: string[] = [];
  controller.on("error", (error) => errors.push(error.message));
  await controller.start();
  assert.equal(controller.status, "ended");
  assert.match(errors[0], /No avatar adapter for provider "nobody"/);
});

/** The built-in avatar's way: a sentence's audio may still be on its way when the one before it ends. */
class LoadingStub extends StubAdapter {
  readonly loading: (() => void)[] = [];

  override speakSentence(text: string): Promise<boolean> {
    if (text !== "It makes avatars.") return super.speakSentence(text);
    return new Promise((resolve) => this.loading.push(() => void super.speakSentence(text).then(resolve)));
  }
}

test("a pause between an answer's sentences is not listening: the status waits for the whole answer", async () => {
  let adapter: LoadingStub | null = null;
  registerAdapter("stub", async () => (context) => (adapter = new LoadingStub(context)));
  const server = fakeServer(ANSWER);
  const controller = new ConversationController({ api: server.api, avatarId: "av1", stage: {} as HTMLElement });
  await controller.start();
  assert.ok(adapter);
  const stub: LoadingStub = adapter;
  stub.finishSentence();
  const turn = controller.ask("What is it?");
  // The whole answer is in: the second sentence is loading, the stream has closed.
  await until(() => stub.loading.length === 1);
  await settle();
  assert.equal(stub.current, "It is a studio.");
  stub.finishSentence();
  // The adapter is idle while the second sentence's audio loads: a question asked now would cut the answer.
  assert.equal(controller.status, "speaking");
  for (const load of stub.loading) load();
  await until(() => stub.current === "It makes avatars.");
  stub.finishSentence();
  await turn;
  assert.equal(controller.status, "listening");
  await controller.end();
});

test("a recording sent ahead at a pause is sent as the turn of the same id; another recording gets its own", async () => {
  const session = { session_id: "s1", provider: "stub", credentials: {}, voice_input: { available: true, engine: "whisper-tiny.en", reason: null, ahead: true } };
  const { controller, calls } = await started(ANSWER, { "POST /v1/sessions": () => Response.json(session, { status: 201 }) });
  const paused = new Blob(["so far"], { type: "audio/wav" });
  controller.transcribeAhead(paused);
  void controller.askAudio(paused);
  const turns = (): FormData[] => calls.filter((call) => call.path === "/v1/sessions/s1/turns").map((call) => call.form as FormData);
  await until(() => turns().length === 1);
  const [aheadCall] = calls.filter((call) => call.path.endsWith("/transcription"));
  const turnId = /\/turns\/([^/]+)\/transcription$/.exec(aheadCall.path)?.[1];
  assert.ok(turnId);
  assert.equal(aheadCall.form?.get("audio") instanceof Blob, true);
  assert.equal(turns()[0].get("turn_id"), turnId);
  // The speaker spoke on after a pause: the longer recording is a turn of its own, never the one sent ahead.
  controller.transcribeAhead(new Blob(["first part"], { type: "audio/wav" }));
  void controller.askAudio(new Blob(["first part and more"], { type: "audio/wav" }));
  await until(() => turns().length === 2);
  const ahead = calls.filter((call) => call.path.endsWith("/transcription")).map((call) => call.path.split("/")[5]);
  assert.equal(ahead.length, 2);
  assert.ok(![turnId, ahead[1]].includes(String(turns()[1].get("turn_id"))));
  await controller.end();
});

test("a server that does not transcribe ahead gets no recording before the turn", async () => {
  const { controller, calls } = await started(ANSWER);
  const paused = new Blob(["so far"], { type: "audio/wav" });
  controller.transcribeAhead(paused);
  void controller.askAudio(paused);
  await until(() => calls.some((call) => call.path === "/v1/sessions/s1/turns"));
  assert.equal(calls.filter((call) => call.path.endsWith("/transcription")).length, 0);
  await controller.end();
});
