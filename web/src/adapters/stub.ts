/**
 * A stand-in for a provider SDK, for tests: it speaks one queued sentence at a time and finishes
 * a sentence only when told to (`finishSentence`), so tests can drive the adapter contract step by step.
 */

import type { AdapterContext, AdapterEvent, AdapterEvents, AvatarAdapter } from "../lib/adapter";
import { Emitter } from "../lib/events";

interface Queued {
  text: string;
  resolve: (finished: boolean) => void;
}

export class StubAdapter implements AvatarAdapter {
  readonly calls: string[] = [];
  readonly spoken: string[] = [];
  credentials: Record<string, unknown> | null = null;
  protected readonly events = new Emitter<AdapterEvents>();
  private queue: Queued[] = [];
  private speaking = false;

  constructor(readonly context?: AdapterContext) {}

  on<K extends AdapterEvent>(event: K, callback: (detail: AdapterEvents[K]) => void): () => void {
    return this.events.on(event, callback);
  }

  async start(credentials: Record<string, unknown>): Promise<void> {
    this.calls.push("start");
    this.credentials = credentials;
  }

  speakSentence(text: string): Promise<boolean> {
    this.calls.push(`speak:${text}`);
    return new Promise((resolve) => {
      this.queue.push({ text, resolve });
      if (!this.speaking) {
        this.speaking = true;
        this.events.emit("speaking", undefined);
      }
    });
  }

  /** The sentence being spoken now, if any. */
  get current(): string | undefined {
    return this.queue[0]?.text;
  }

  /** Finishes the current sentence as if the SDK reported it spoken. */
  finishSentence(): void {
    const done = this.queue.shift();
    if (!done) return;
    this.spoken.push(done.text);
    done.resolve(true);
    if (this.queue.length === 0) {
      this.speaking = false;
      this.events.emit("idle", undefined);
    }
  }

  interrupt(): void {
    this.calls.push("interrupt");
    const dropped = this.queue;
    this.queue = [];
    for (const item of dropped) item.resolve(false);
    if (this.speaking) {
      this.speaking = false;
      this.events.emit("idle", undefined);
    }
  }

  /** Ends the stream as a network failure would. */
  drop(): void {
    this.interrupt();
    this.events.emit("disconnected", { expected: false });
  }

  fail(error: Error): void {
    this.events.emit("error", error);
  }

  async stop(): Promise<void> {
    this.calls.push("stop");
    this.interrupt();
    this.events.emit("disconnected", { expected: true });
  }
}

export function createStubAdapter(context: AdapterContext): StubAdapter {
  return new StubAdapter(context);
}
