import assert from "node:assert/strict";
import { test } from "node:test";
import { StatusMachine, TRANSITIONS, type ConversationStatus } from "../src/lib/conversation/status";

const STATUSES = Object.keys(TRANSITIONS) as ConversationStatus[];

/** A machine brought to `status` along allowed transitions (a shortest path from idle). */
function machineAt(status: ConversationStatus): { machine: StatusMachine; changes: [ConversationStatus, ConversationStatus][] } {
  const changes: [ConversationStatus, ConversationStatus][] = [];
  const machine = new StatusMachine((to, from) => changes.push([from, to]));
  const paths = new Map<ConversationStatus, ConversationStatus[]>([["idle", []]]);
  const queue: ConversationStatus[] = ["idle"];
  for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
    for (const next of TRANSITIONS[at]) {
      if (paths.has(next)) continue;
      paths.set(next, [...(paths.get(at) ?? []), next]);
      queue.push(next);
    }
  }
  const path = paths.get(status);
  assert.ok(path, `${status} cannot be reached from idle`);
  for (const step of path) assert.equal(machine.go(step), true);
  assert.equal(machine.status, status);
  changes.length = 0;
  return { machine, changes };
}

test("the transition table covers every status and every status is reachable from idle", () => {
  assert.deepEqual([...STATUSES].sort(), ["connecting", "ended", "idle", "listening", "speaking", "thinking"]);
  for (const status of STATUSES) machineAt(status);
});

test("every allowed transition moves and is heard once", () => {
  let walked = 0;
  for (const from of STATUSES) {
    for (const to of TRANSITIONS[from]) {
      const { machine, changes } = machineAt(from);
      assert.equal(machine.go(to), true, `${from} -> ${to} was refused`);
      assert.equal(machine.status, to);
      assert.deepEqual(changes, [[from, to]]);
      walked += 1;
    }
  }
  assert.equal(walked, 14);
});

test("every other change is refused, unheard, and leaves the status as it was", () => {
  let refused = 0;
  for (const from of STATUSES) {
    for (const to of STATUSES.filter((status) => !TRANSITIONS[from].includes(status))) {
      const { machine, changes } = machineAt(from);
      assert.equal(machine.go(to), false, `${from} -> ${to} was allowed`);
      assert.equal(machine.status, from);
      assert.deepEqual(changes, []);
      refused += 1;
    }
  }
  assert.equal(refused, 6 * 6 - 14);
});

test("ended is final and the only status that is ended; only the talking statuses are live", () => {
  assert.deepEqual(TRANSITIONS.ended, []);
  for (const status of STATUSES) {
    const { machine } = machineAt(status);
    assert.equal(machine.ended, status === "ended");
    assert.equal(machine.live, ["listening", "thinking", "speaking"].includes(status));
  }
});
