import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiClient, ApiError } from "../src/lib/api";
import { uploadDocument } from "../src/lib/uploads";

const TICKET = {
  document_id: "doc-1",
  url: "https://uploads.s3.test/",
  fields: { key: "uploads/o/doc-1", policy: "p", "x-amz-signature": "s" },
  expires_at: "2026-11-29T22:00:00Z",
};

test("a file is sent with its ticket's fields first and the file last, to the ticket's url", async () => {
  const calls: { url: string; init?: RequestInit }[] = [];
  const api = new ApiClient("https://api.test", "tok", async (input, init) => {
    calls.push({ url: String(input), init });
    return new Response(JSON.stringify(TICKET), { status: 201 });
  });
  let posted: FormData | undefined;
  let target = "";
  const file = new File(["# Guide"], "guide.md", { type: "text/markdown" });
  const id = await uploadDocument(api, "av-1", file, async (input, init) => {
    target = String(input);
    posted = init?.body as FormData;
    assert.equal((init?.headers as Record<string, string> | undefined)?.authorization, undefined);
    return new Response(null, { status: 204 });
  });
  assert.equal(id, "doc-1");
  assert.equal(calls[0].url, "https://api.test/v1/avatars/av-1/knowledge/uploads");
  assert.deepEqual(JSON.parse(String(calls[0].init?.body)), { filename: "guide.md", content_type: "text/markdown", size_bytes: 7 });
  assert.equal(target, TICKET.url);
  assert.deepEqual([...(posted?.keys() ?? [])], ["key", "policy", "x-amz-signature", "file"]);
});

test("storage refusing the file is an ApiError with its status", async () => {
  const api = new ApiClient("https://api.test", "tok", async () => new Response(JSON.stringify(TICKET), { status: 201 }));
  const refused = await uploadDocument(api, "av-1", new File(["x"], "a.md"), async () =>
    new Response("<Error><Code>EntityTooLarge</Code></Error>", { status: 400, statusText: "Bad Request" }),
  ).catch((e: unknown) => e);
  assert.ok(refused instanceof ApiError);
  assert.equal(refused.status, 400);
});
