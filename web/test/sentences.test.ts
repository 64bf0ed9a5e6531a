import assert from "node:assert/strict";
import { test } from "node:test";
import { splitFirstClause } from "../src/adapters/local/index";
import { StubAdapter } from "../src/adapters/stub";
import { SentenceQueue } from "../src/lib/sentences";

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("sentences are handed over in index order, the first at once", () => {
  const adapter = new StubAdapter();
  const queue = new SentenceQueue(adapter);
  queue.push(0, "One.");
  assert.equal(adapter.current, "One.");
  queue.push(2, "Three.");
  assert.deepEqual(adapter.calls, ["speak:One."]);
  queue.push(1, "Two.");
  assert.deepEqual(adapter.calls, ["speak:One.", "speak:Two.", "speak:Three."]);
});

test("drained resolves after every sentence was spoken", async () => {
  const adapter = new StubAdapter();
  const queue = new SentenceQueue(adapter);
  queue.push(0, "One.");
  queue.push(1, "Two.");
  let drained = false;
  void queue.drained().then(() => (drained = true));
  adapter.finishSentence();
  await tick();
  assert.equal(drained, false);
  adapter.finishSentence();
  await tick();
  assert.equal(drained, true);
  assert.equal(queue.heardText(), "One. Two.");
});

test("interrupt keeps the spoken sentences and the one being spoken, and discards the rest", async () => {
  const adapter = new StubAdapter();
  const queue = new SentenceQueue(adapter);
  queue.push(0, "One.");
  queue.push(1, "Two.");
  queue.push(2, "Three.");
  adapter.finishSentence();
  await tick();
  assert.equal(queue.interrupt(), "One. Two.");
  assert.ok(adapter.calls.includes("interrupt"));
  queue.push(3, "Four.");
  assert.equal(adapter.calls.includes("speak:Four."), false);
  await queue.drained();
  assert.equal(queue.heardText(), "One. Two.");
});

test("the adapter says the speech while the heard text keeps the written sentence", async () => {
  const adapter = new StubAdapter();
  const queue = new SentenceQueue(adapter);
  queue.push(0, "**Refunds** take five days [1].", "Refunds take five days.");
  queue.push(1, "```", "");
  queue.push(2, "See [the policy](https://example.com) [2].", "See the policy.");
  assert.deepEqual(adapter.calls, ["speak:Refunds take five days.", "speak:See the policy."]);
  adapter.finishSentence();
  await tick();
  assert.equal(queue.heardText(), "**Refunds** take five days [1]. ``` See [the policy](https://example.com) [2].");
  adapter.finishSentence();
  await queue.drained();
  assert.equal(queue.heardText(), "**Refunds** take five days [1]. ``` See [the policy](https://example.com) [2].");
});

test("nothing counts as heard when the adapter had not started speaking", () => {
  const adapter = new StubAdapter();
  const queue = new SentenceQueue(adapter);
  adapter.interrupt();
  queue.push(0, "Never heard.");
  adapter.interrupt();
  assert.equal(new SentenceQueue(adapter).interrupt(), "");
});

test("a sentence starting from silence is cut after its first clause, only when both parts are long enough", () => {
  assert.deepEqual(splitFirstClause("I'm answering from the knowledge base, so here is what it says."), [
    "I'm answering from the knowledge base,",
    "so here is what it says.",
  ]);
  assert.deepEqual(splitFirstClause("Yes, it does that well."), ["Yes, it does that well.", ""]);
  assert.deepEqual(splitFirstClause("It ships today, I think."), ["It ships today, I think.", ""]);
  assert.deepEqual(splitFirstClause("No clause breaks here at all."), ["No clause breaks here at all.", ""]);
});

test("a sentence with no early clause break is cut before a linking word in its first few words", () => {
  assert.deepEqual(splitFirstClause("On the day before a public holiday they close two hours early."), [
    "On the day",
    "before a public holiday they close two hours early.",
  ]);
  assert.deepEqual(splitFirstClause("You can renew a book online or at the desk for three more weeks."), [
    "You can renew a book online",
    "or at the desk for three more weeks.",
  ]);
  // Seven words are enough to say three first (the library handbook's answers, as bench/voice_e2e.py heard them).
  assert.deepEqual(splitFirstClause("We stopped charging fines for late books in 2022."), [
    "We stopped charging fines",
    "for late books in 2022.",
  ]);
  assert.deepEqual(splitFirstClause("There is no car park at the central branch; use the one on Mill Street."), [
    "There is no car park",
    "at the central branch; use the one on Mill Street.",
  ]);
  assert.deepEqual(splitFirstClause("It opens at nine."), ["It opens at nine.", ""]);
});

test("a first clause that ends late is said first when nothing earlier can be", () => {
  assert.deepEqual(
    splitFirstClause("With your library card you can borrow e-books and e-audiobooks through the Libby app, at no cost."),
    ["With your library card you can borrow e-books and e-audiobooks through the Libby app,", "at no cost."],
  );
  // No linking word early enough and no clause: whole, rather than a cut that breaks a phrase.
  const long = "With your library card you can borrow e-books and e-audiobooks through the Libby app.";
  assert.deepEqual(splitFirstClause(long), [long, ""]);
});
