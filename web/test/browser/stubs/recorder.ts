/**
 * What the stub SDKs share with the browser tests: a log of every call an adapter made, the live stub
 * instances (so a test can drop a stream), and how long the stub avatar takes to say one sentence.
 */

export interface StubInstance {
  sdk: string;
  token: string;
  /** Ends the stream as a network failure would. */
  drop(): void;
}

export interface StubWorld {
  calls: string[];
  instances: StubInstance[];
  sentenceMs: number;
}

declare global {
  var stubSdk: StubWorld;
}

globalThis.stubSdk ??= { calls: [], instances: [], sentenceMs: 150 };

export function record(call: string): void {
  globalThis.stubSdk.calls.push(call);
}

export function register(instance: StubInstance): void {
  globalThis.stubSdk.instances.push(instance);
}

export function later(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A stream with one video track, as a provider's would carry. */
export function fakeStream(): MediaStream {
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 64;
  canvas.getContext("2d")?.fillRect(0, 0, 64, 64);
  return canvas.captureStream(5);
}
