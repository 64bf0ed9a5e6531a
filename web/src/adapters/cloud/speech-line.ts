/**
 * The order in which a cloud avatar speaks a turn: each sentence is prepared ahead (its audio fetched, say),
 * handed to the provider in order, with at most `inFlight` handed over and not yet finished, and reported
 * finished when the provider has spoken it. What is still with us when the user interrupts is never sent.
 */

import type { AdapterEvents } from "../../lib/adapter";
import type { Emitter } from "../../lib/events";
import type { ApiClient } from "../../lib/api";
import { durationMs, fetchPcm, type PcmAudio } from "../../lib/speech";

export interface Delivery {
  /** Call when the provider starts speaking this item (the line then reports `speaking`). */
  started(): void;
  signal: AbortSignal;
}

export interface LineHooks<T> {
  prepare(text: string, signal: AbortSignal): Promise<T>;
  /** Hands one item to the provider; resolves once the provider has spoken it to the end. */
  deliver(item: T, delivery: Delivery): Promise<void>;
  /** Makes the provider stop at once and drop whatever it was given. */
  halt(): void;
}

interface Entry<T> {
  load(signal: AbortSignal): Promise<T>;
  abort: AbortController;
  prepared: T | null;
  preparing: boolean;
  delivering: boolean;
  resolve(finished: boolean): void;
}

export class SpeechLine<T> {
  private entries: Entry<T>[] = [];
  private speaking = false;

  constructor(
    private readonly hooks: LineHooks<T>,
    private readonly events: Emitter<AdapterEvents>,
    private readonly inFlight = 2,
  ) {}

  speak(text: string): Promise<boolean> {
    return this.enqueue((signal) => this.hooks.prepare(text, signal));
  }

  private enqueue(load: Entry<T>["load"]): Promise<boolean> {
    return new Promise((resolve) => {
      this.entries.push({ load, abort: new AbortController(), prepared: null, preparing: false, delivering: false, resolve });
      this.pump();
    });
  }

  /** Stops at once: the provider drops what it has, and nothing still queued here is sent. */
  interrupt(): void {
    const dropped = this.entries;
    this.entries = [];
    for (const entry of dropped) {
      entry.abort.abort();
      entry.resolve(false);
    }
    if (dropped.some((entry) => entry.delivering)) this.hooks.halt();
    this.setSpeaking(false);
  }

  private pump(): void {
    for (const entry of this.entries.slice(0, this.inFlight + 1)) {
      if (entry.preparing) continue;
      entry.preparing = true;
      entry.load(entry.abort.signal).then(
        (prepared) => {
          entry.prepared = prepared;
          this.pump();
        },
        (error: unknown) => this.failed(entry, error),
      );
    }
    let handedOver = 0;
    for (const entry of this.entries) {
      if (handedOver >= this.inFlight || entry.prepared === null) break;
      handedOver += 1;
      if (!entry.delivering) this.deliver(entry, entry.prepared);
    }
  }

  private deliver(entry: Entry<T>, prepared: T): void {
    entry.delivering = true;
    const delivery: Delivery = { started: () => this.started(entry), signal: entry.abort.signal };
    this.hooks.deliver(prepared, delivery).then(
      () => this.finished(entry),
      (error: unknown) => this.failed(entry, error),
    );
  }

  private started(entry: Entry<T>): void {
    if (this.entries.includes(entry)) this.setSpeaking(true);
  }

  private finished(entry: Entry<T>): void {
    const index = this.entries.indexOf(entry);
    if (index < 0) return;
    this.entries.splice(index, 1);
    entry.resolve(true);
    if (this.entries.length === 0) this.setSpeaking(false);
    this.pump();
  }

  private failed(entry: Entry<T>, error: unknown): void {
    if (entry.abort.signal.aborted || !this.entries.includes(entry)) return;
    this.entries.splice(this.entries.indexOf(entry), 1);
    entry.resolve(false);
    this.events.emit("error", error instanceof Error ? error : new Error(String(error)));
    if (this.entries.length === 0) this.setSpeaking(false);
    this.pump();
  }

  private setSpeaking(speaking: boolean): void {
    if (this.speaking === speaking) return;
    this.speaking = speaking;
    this.events.emit(speaking ? "speaking" : "idle", undefined);
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Resolves when the signal aborts. */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

interface Pushed {
  delivery: Delivery;
  ms: number;
  started: boolean;
  done(): void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Hooks for an avatar that renders audio we push and says when it speaks (Simli): each sentence's speech comes
 * from our `/v1/tts` at the provider's rate. The provider's `speaking` (it started rendering what we pushed) starts
 * the first sentence and its `silent` (nothing left to render) ends every sentence it started: the end of the
 * speech is the provider's, never our estimate. Only where sentences follow each other without a silence between
 * them is the boundary placed by the first one's length, counted from when it really started.
 */
export function pushedAudioHooks(options: {
  api: ApiClient;
  sessionId: string;
  sampleRate: number;
  send(audio: PcmAudio): void;
  halt(): void;
}): { hooks: LineHooks<PcmAudio>; speaking(): void; silent(): void } {
  let pending: Pushed[] = [];
  /** When the provider started saying `pending[0]`; null while it is silent. */
  let saying: number | null = null;

  function startHead(): void {
    const head = pending[0];
    if (!head || head.started) return;
    head.started = true;
    head.delivery.started();
  }

  function finishHead(): void {
    const head = pending.shift();
    if (!head) return;
    clearTimeout(head.timer);
    head.done();
  }

  /** A sentence followed by another ends when its audio has played; the last one waits for `silent`. */
  function placeBoundary(): void {
    const head = pending[0];
    if (saying === null || !head?.started || pending.length < 2 || head.timer !== undefined) return;
    head.timer = setTimeout(
      () => {
        finishHead();
        saying = performance.now();
        startHead();
        placeBoundary();
      },
      Math.max(0, saying + head.ms - performance.now()),
    );
  }

  return {
    hooks: {
      prepare: (text, signal) => fetchPcm(options.api, options.sessionId, text, options.sampleRate, signal),
      async deliver(audio, delivery) {
        const ended = new Promise<void>((resolve) =>
          pending.push({ delivery, ms: durationMs(audio), started: false, done: resolve }),
        );
        options.send(audio);
        placeBoundary();
        await Promise.race([ended, whenAborted(delivery.signal)]);
      },
      halt() {
        for (const item of pending) clearTimeout(item.timer);
        pending = [];
        saying = null;
        options.halt();
      },
    },
    speaking() {
      if (saying !== null || pending.length === 0) return;
      saying = performance.now();
      startHead();
      placeBoundary();
    },
    silent() {
      saying = null;
      while (pending[0]?.started) finishHead();
    },
  };
}
