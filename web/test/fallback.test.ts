import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { StubAdapter } from "../src/adapters/stub";
import { registerAdapter, type AdapterContext, type AvatarAdapter } from "../src/lib/adapter";
import { ApiClient } from "../src/lib/api";
import { ConversationController, DROP_NOTICE, GAVE_UP_NOTICE, NOT_CONVERSATIONAL } from "../src/lib/controller";
import { ManualClock, settle, until } from "./waiting";


interface Call {
  path: string;
  body: unknown;
}

/** A server whose sessions use the "cloud" provider; `reconnect` answers fresh credentials or the given failure. */
function server(reconnect: () => Response) {
  const calls: Call[] = [];
  let minted = 0;
  const fetcher = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = new URL(String(input)).pathname;
    calls.push({ path, body: typeof init?.body === "string" ? JSON.parse(init.body) : null });
    if (path === "/v1/sessions") {
      return Response.json({ session_id: "s1", provider: "cloud", credentials: { token: `t${++minted}` } }, { status: 201 });
    }
    if (path === "/v1/sessions/s1/turns") {
      const events = [
        ["sentence", { index: 0, text: "Yes, still here." }],
        ["done", { reply: "Yes, still here.", timings: {} }],
      ];
      const body = events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    }
    if (path === "/v1/sessions/s1/reconnect") {
      const answer = reconnect();
      return answer.ok ? Response.json({ session_id: "s1", provider: "cloud", credentials: { token: `t${++minted}` } }) : answer;
    }
    return Response.json({});
  };
  return { calls, api: new ApiClient("http://api.test", "tok", fetcher) };
}

async function cloudConversation(t: TestContext, reconnect: () => Response, delays: number[]) {
  const clouds: StubAdapter[] = [];
  const locals: StubAdapter[] = [];
  registerAdapter("cloud", async () => (context) => {
    const adapter = new StubAdapter(context);
    clouds.push(adapter);
    return adapter;
  });
  registerAdapter("local", async () => (context) => {
    const adapter = new StubAdapter(context);
    locals.push(adapter);
    return adapter;
  });
  const { api, calls } = server(reconnect);
  const clock = new ManualClock();
  const controller = new ConversationController({
    api,
    avatarId: "av1",
    stage: {} as HTMLElement,
    reconnectDelaysMs: delays,
    sleep: clock.sleep,
  });
  const notices: (string | null)[] = [];
  controller.on("notice", (notice) => notices.push(notice));
  // A failed assertion must not leave the keep-alive timer holding the test process open.
  t.after(() => controller.end());
  await controller.start();
  return { controller, clouds, locals, calls, notices, clock };
}

test("a cloud avatar's talking is recorded with the session as speaking, then listening", async (t) => {
  const { clouds, calls } = await cloudConversation(t, () => Response.json({}), []);
  void clouds[0].speakSentence("Hello.");
  clouds[0].finishSentence();
  await until(() => calls.filter((call) => call.path === "/v1/sessions/s1/events").length === 2);
  assert.deepEqual(
    calls.filter((call) => call.path === "/v1/sessions/s1/events").map((call) => call.body),
    [
      { type: "speaking", data: { provider: "cloud" } },
      { type: "listening", data: { provider: "cloud" } },
    ],
  );
});

test("a dropped provider stream falls back to the local avatar, records the drop and reconnects", async (t) => {
  const { controller, clouds, locals, calls, notices, clock } = await cloudConversation(t, () => Response.json({}), [5]);
  clouds[0].drop();
  await until(() => locals.length === 1 && locals[0].calls.includes("start") && clock.pending === 1);
  assert.deepEqual(clock.asked, [5]);
  assert.deepEqual(notices, [DROP_NOTICE]);
  assert.deepEqual(calls.find((call) => call.path === "/v1/sessions/s1/events")?.body, {
    type: "disconnected",
    data: { provider: "cloud", fallback: "local" },
  });
  assert.ok(clouds[0].calls.includes("stop"), "the dropped adapter was not released");
  assert.equal(clouds.length, 1, "reconnected before its delay was over");
  clock.release();
  await until(() => notices.length === 2);
  assert.deepEqual(notices, [DROP_NOTICE, null]);
  assert.equal(clouds.length, 2);
  assert.deepEqual(clouds[1].credentials, { token: "t2" });
  assert.ok(locals[0].calls.includes("stop"), "the local avatar kept running after the provider came back");
  await controller.end();
});

test("while the provider is away the local avatar speaks; the swap back waits for the turn to end", async (t) => {
  const { controller, clouds, locals, notices, clock } = await cloudConversation(t, () => Response.json({}), [30]);
  clouds[0].drop();
  await until(() => locals.length === 1 && locals[0].calls.includes("start") && clock.pending === 1);
  const turn = controller.ask("Still there?");
  await until(() => locals[0].current === "Yes, still here.");
  clock.release();
  await until(() => clouds.length === 2 && clouds[1].calls.includes("start"));
  await settle();
  assert.deepEqual(notices, [DROP_NOTICE], "the provider came back in the middle of an answer");
  assert.ok(!locals[0].calls.includes("stop"), "the local avatar was stopped in the middle of an answer");
  locals[0].finishSentence();
  await turn;
  await until(() => notices.length === 2);
  assert.deepEqual(notices, [DROP_NOTICE, null]);
  assert.deepEqual(locals[0].spoken, ["Yes, still here."]);
  await controller.end();
});

test("when the provider cannot be brought back, the local avatar stays and the notice says so", async (t) => {
  const refuse = () => Response.json({ status: 503, code: "provider_unavailable", detail: "down", provider: "cloud" }, { status: 503 });
  const { controller, clouds, locals, calls, notices, clock } = await cloudConversation(t, refuse, [1, 2]);
  clouds[0].drop();
  for (const attempt of [1, 2]) {
    await until(() => clock.pending === 1);
    clock.release();
    await until(() => calls.filter((call) => call.path === "/v1/sessions/s1/reconnect").length === attempt);
  }
  await until(() => notices.length === 2);
  assert.deepEqual(clock.asked, [1, 2]);
  assert.deepEqual(notices, [DROP_NOTICE, GAVE_UP_NOTICE]);
  assert.equal(calls.filter((call) => call.path === "/v1/sessions/s1/reconnect").length, 2);
  assert.equal(clouds.length, 1);
  assert.equal(controller.status, "listening");
  assert.ok(!locals[0].calls.includes("stop"));
  await controller.end();
});

test("a session that ended meanwhile stops reconnecting at the first 409", async (t) => {
  const ended = () => Response.json({ status: 409, code: "session_ended", detail: "over" }, { status: 409 });
  const { controller, clouds, calls, notices, clock } = await cloudConversation(t, ended, [1, 1, 1]);
  clouds[0].drop();
  await until(() => clock.pending === 1);
  clock.release();
  await until(() => calls.some((call) => call.path === "/v1/sessions/s1/reconnect"));
  await settle();
  assert.equal(clock.pending, 0, "it waited to try again");
  assert.deepEqual(clock.asked, [1]);
  assert.equal(calls.filter((call) => call.path === "/v1/sessions/s1/reconnect").length, 1);
  assert.deepEqual(notices, [DROP_NOTICE]);
  await controller.end();
});

test("an expected disconnect (our own stop) neither falls back nor ends the session twice", async (t) => {
  const { controller, clouds, locals, calls } = await cloudConversation(t, () => Response.json({}), [1]);
  await controller.end();
  assert.ok(clouds[0].calls.includes("stop"));
  assert.equal(locals.length, 0);
  assert.equal(calls.filter((call) => call.path === "/v1/sessions/s1/end").length, 1);
});

class Conversational extends StubAdapter implements AvatarAdapter {
  readonly conversational = true;
  readonly sent: string[] = [];

  constructor(context: AdapterContext, private readonly takesText: boolean) {
    super(context);
    if (takesText) this.sendText = (text: string) => this.sent.push(text);
  }

  sendText?: (text: string) => void;

  hear(role: "user" | "avatar", text: string): void {
    this.events.emit("transcript", { role, text });
  }
}

test("a provider that runs the conversation takes typed questions and fills the transcript", async () => {
  let adapter: Conversational | null = null;
  registerAdapter("cloud", async () => (context) => (adapter = new Conversational(context, true)));
  const { api, calls } = server(() => Response.json({}));
  const controller = new ConversationController({ api, avatarId: "av1", stage: {} as HTMLElement, greeting: "Hi." });
  const users: string[] = [];
  const answers: string[] = [];
  controller.on("user", ({ text }) => users.push(text));
  controller.on("answer", ({ reply }) => answers.push(reply));
  await controller.start();
  assert.ok(adapter);
  const provider: Conversational = adapter;
  assert.equal(controller.conversational, true);
  assert.ok(!provider.calls.includes("speak:Hi."), "our greeting was spoken over the provider's own");
  await controller.ask("Where is my order?");
  assert.deepEqual(provider.sent, ["Where is my order?"]);
  provider.hear("avatar", "It ships tomorrow.");
  assert.deepEqual(users, ["Where is my order?"]);
  assert.deepEqual(answers, ["It ships tomorrow."]);
  assert.ok(!calls.some((call) => call.path.endsWith("/turns")), "a turn was run for a conversational provider");
  await controller.end();
});

test("a provider that holds its own call refuses typed questions in plain words", async () => {
  registerAdapter("cloud", async () => (context) => new Conversational(context, false));
  const { api } = server(() => Response.json({}));
  const controller = new ConversationController({ api, avatarId: "av1", stage: {} as HTMLElement });
  const errors: string[] = [];
  controller.on("error", (error) => errors.push(error.message));
  await controller.start();
  await controller.ask("Hello?");
  assert.deepEqual(errors, [NOT_CONVERSATIONAL]);
  await controller.end();
});
