import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiClient, ApiError, humanMessage, loadAddresses, STT_MESSAGE } from "../src/lib/api";

function problem(status: number, body: object, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

test("a problem response becomes an ApiError with status, code, detail and retry-after", async () => {
  const api = new ApiClient("http://api.test/", "tok", async () =>
    problem(429, { status: 429, code: "quota_exceeded", detail: "You used 600 of 600 minutes." }, { "retry-after": "30" }),
  );
  const error = await api.json("POST", "/v1/sessions", {}).catch((e: unknown) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 429);
  assert.equal(error.code, "quota_exceeded");
  assert.equal(error.retryAfter, 30);
  // The server's sentence already says what to do; nothing about plans a self-hosted product does not have.
  assert.equal(humanMessage(error), "You used 600 of 600 minutes.");
});

test("requests carry the bearer token and a JSON body", async () => {
  let seen: RequestInit | undefined;
  let url = "";
  const api = new ApiClient("http://api.test/", "tok", async (input, init) => {
    url = String(input);
    seen = init;
    return new Response(JSON.stringify({ ok: true }), { status: 200 });
  });
  assert.deepEqual(await api.json("POST", "/v1/x", { a: 1 }), { ok: true });
  assert.equal(url, "http://api.test/v1/x");
  assert.equal((seen?.headers as Record<string, string>).authorization, "Bearer tok");
  assert.equal(seen?.body, '{"a":1}');
});

test("a network failure is the offline error with a plain message", async () => {
  const api = new ApiClient("http://api.test", null, async () => {
    throw new TypeError("Failed to fetch");
  });
  const error = await api.json("GET", "/v1/avatars").catch((e: unknown) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.code, "offline");
  assert.match(humanMessage(error), /cannot be reached/);
});

test("provider failures, missing transcription and refused origins read as plain words", () => {
  const provider = new ApiError({ status: 502, code: "provider_error", detail: "timed out", provider: "heygen" });
  assert.match(humanMessage(provider), /avatar service \(heygen\) is unavailable/);
  const unset = new ApiError({
    status: 503,
    code: "provider_unavailable",
    detail: "heygen: this avatar provider is not configured in this deployment: set HEYGEN_API_KEY",
    provider: "heygen",
  });
  assert.equal(
    humanMessage(unset),
    "The heygen avatar service is not set up on this server (it needs HEYGEN_API_KEY). Switch this avatar to the built-in avatar in Settings, or set the key and restart the server.",
  );
  assert.equal(humanMessage(new ApiError({ status: 501, code: "stt_unavailable", detail: "x" })), STT_MESSAGE);
  const refused = new ApiError({
    status: 403,
    code: "origin_not_allowed",
    detail: "https://evil.test is not one of this avatar's allowed widget origins; its owner can add it in the studio",
  });
  // The server's reason once, not wrapped in a sentence that says it again.
  assert.equal(
    humanMessage(refused),
    "This website is not allowed to show this avatar: https://evil.test is not one of this avatar's allowed widget origins; its owner can add it in the studio.",
  );
});

test("a non-problem error body still maps to an ApiError", async () => {
  const api = new ApiClient("http://api.test", null, async () => new Response("<html>", { status: 502, statusText: "Bad Gateway" }));
  const error = await api.json("GET", "/v1/x").catch((e: unknown) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.code, "http_502");
});

test("streaming routes go to the streaming address and every other route to the HTTP API", async () => {
  const seen: string[] = [];
  const api = new ApiClient({ api: "https://abc.execute-api.test/", stream: "https://xyz.lambda-url.test" }, "tok", async (input) => {
    seen.push(String(input));
    return new Response("{}", { status: 200 });
  });
  for (const path of [
    "/v1/sessions/s1/turns",
    "/v1/sessions/s1/turns/t1/interrupt",
    "/v1/tts",
    "/v1/chat/completions",
    "/v1/sessions/s1/chat/completions",
    "/v1/sessions",
    "/v1/sessions/s1/end",
    "/v1/avatars",
    "/v1/widget/token",
    "/v1/config",
  ]) {
    await api.request("POST", path);
  }
  assert.deepEqual(seen, [
    "https://xyz.lambda-url.test/v1/sessions/s1/turns",
    "https://xyz.lambda-url.test/v1/sessions/s1/turns/t1/interrupt",
    "https://xyz.lambda-url.test/v1/tts",
    "https://xyz.lambda-url.test/v1/chat/completions",
    "https://xyz.lambda-url.test/v1/sessions/s1/chat/completions",
    "https://abc.execute-api.test/v1/sessions",
    "https://abc.execute-api.test/v1/sessions/s1/end",
    "https://abc.execute-api.test/v1/avatars",
    "https://abc.execute-api.test/v1/widget/token",
    "https://abc.execute-api.test/v1/config",
  ]);
});

test("the deployed site's config.json gives both addresses; naming none, or without one, both are the page's origin", async () => {
  const deployed = await loadAddresses("https://d1.cloudfront.test", async (input) => {
    assert.equal(String(input), "https://d1.cloudfront.test/config.json");
    return new Response(JSON.stringify({ api: "https://a.test", stream: "https://s.test" }), { status: 200 });
  });
  assert.deepEqual(deployed, { api: "https://a.test", stream: "https://s.test" });
  const local = await loadAddresses("http://127.0.0.1:8000", async () => new Response("not found", { status: 404 }));
  assert.deepEqual(local, { api: "http://127.0.0.1:8000", stream: "http://127.0.0.1:8000" });
  // The local server's answer: it serves the pages and the API on whatever origin the browser sees.
  const proxied = await loadAddresses("https://dev.tunnel.test", async () => Response.json({ api: null, stream: null }));
  assert.deepEqual(proxied, { api: "https://dev.tunnel.test", stream: "https://dev.tunnel.test" });
  const offline = await loadAddresses("http://127.0.0.1:8000", async () => {
    throw new TypeError("Failed to fetch");
  });
  assert.deepEqual(offline, { api: "http://127.0.0.1:8000", stream: "http://127.0.0.1:8000" });
});
