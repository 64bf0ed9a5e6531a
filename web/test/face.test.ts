import assert from "node:assert/strict";
import { test } from "node:test";
import { visemeOf } from "../src/adapters/local/face";
import { appearanceOf } from "../src/adapters/local/portrait";

test("quiet is the rest shape, and the bands of a voiced frame choose the mouth", () => {
  assert.equal(visemeOf({ loud: 0.01, low: 0.9, mid: 0.1, high: 0 }).viseme, "rest");
  assert.equal(visemeOf({ loud: 0.5, low: 0.05, mid: 0.05, high: 0.9 }).viseme, "S");
  assert.equal(visemeOf({ loud: 0.5, low: 0.6, mid: 0.38, high: 0.02 }).viseme, "E");
  assert.equal(visemeOf({ loud: 0.5, low: 0.98, mid: 0.01, high: 0.01 }).viseme, "O");
  const a = visemeOf({ loud: 0.5, low: 0.9, mid: 0.09, high: 0.01 });
  assert.equal(a.viseme, "A");
  assert.ok(a.open > visemeOf({ loud: 0.2, low: 0.9, mid: 0.09, high: 0.01 }).open, "louder opens wider");
});

test("an unknown look or colour falls back to the default appearance", () => {
  assert.deepEqual(appearanceOf({ look: "noor", theme: "#0f766e" }), { look: "noor", theme: "#0f766e" });
  assert.deepEqual(appearanceOf({ look: "robot", theme: "red" }), { look: "ada", theme: "#2563eb" });
  assert.deepEqual(appearanceOf(undefined), { look: "ada", theme: "#2563eb" });
});
