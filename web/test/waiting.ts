/** Waiting in tests by the event loop and by a clock the test moves, never by a span of real time. */
import assert from "node:assert/strict";

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Lets the event loop run until `condition` holds; each step is one turn of the loop. */
export async function until(condition: () => boolean, turns = 2_000): Promise<void> {
  for (let i = 0; i < turns && !condition(); i += 1) await turn();
  assert.ok(condition(), "the awaited condition never held");
}

/** Lets every callback already on its way run (for asserting that something did not happen). */
export async function settle(turns = 200): Promise<void> {
  for (let i = 0; i < turns; i += 1) await turn();
}

/** The controller's `sleep`, ended by the test: `pending` lists the waits asked for, `release()` ends the oldest. */
export class ManualClock {
  readonly asked: number[] = [];
  private readonly waiting: (() => void)[] = [];

  readonly sleep = (ms: number): Promise<void> => {
    this.asked.push(ms);
    return new Promise((resolve) => this.waiting.push(resolve));
  };

  get pending(): number {
    return this.waiting.length;
  }

  release(): void {
    const next = this.waiting.shift();
    assert.ok(next, "nothing is waiting on the clock");
    next();
  }
}
