/** The one browser-side interface every avatar provider implements, and the registry that loads them lazily. */

import type { ApiClient } from "./api";

/** A line of the conversation heard by a provider that runs the conversation itself. */
export interface Transcript {
  role: "user" | "avatar";
  text: string;
}

export interface AdapterEvents {
  speaking: undefined;
  idle: undefined;
  error: Error;
  /** The stream ended; `expected` is false when it dropped rather than being stopped by us. */
  disconnected: { expected: boolean };
  transcript: Transcript;
}

export type AdapterEvent = keyof AdapterEvents;

export interface AvatarAdapter {
  /** Connects with the credentials the sessions function returned; resolves once the avatar can speak. */
  start(credentials: Record<string, unknown>): Promise<void>;
  /** Queues a sentence; resolves true once it has been spoken to the end, false if it was interrupted. */
  speakSentence(text: string): Promise<boolean>;
  /** Stops speaking at once and discards everything queued. */
  interrupt(): void;
  stop(): Promise<void>;
  on<K extends AdapterEvent>(event: K, callback: (detail: AdapterEvents[K]) => void): () => void;
  /** Lets the face look at the user while they speak; optional for video providers. */
  setListening?(listening: boolean): void;
  /** Retries audio playback after the browser blocked autoplay; resolves true once sound can play. */
  resumeAudio?(): Promise<boolean>;
  /**
   * Set when the provider listens and answers by itself (LiveAvatar FULL, Tavus): our turns are not used,
   * and its `transcript` events fill the transcript.
   */
  readonly conversational?: boolean;
  /** For a conversational provider that also takes typed questions. */
  sendText?(text: string): void;
}

export interface AdapterContext {
  api: ApiClient;
  sessionId: string;
  /** The element the avatar renders into (canvas or video). */
  stage: HTMLElement;
  /** How the built-in avatar looks (`{look, theme}`), as the avatar's settings say. */
  appearance?: unknown;
}

export type AdapterFactory = (context: AdapterContext) => AvatarAdapter;

// Each provider's adapter, with its SDK, is a chunk of its own, loaded when a session needs it.
const loaders = new Map<string, () => Promise<AdapterFactory>>([
  ["local", () => import("../adapters/local/index").then((module) => module.createLocalAdapter)],
  ["heygen", () => import("../adapters/heygen/index").then((module) => module.createHeyGenAdapter)],
  ["liveavatar", () => import("../adapters/liveavatar/index").then((module) => module.createLiveAvatarAdapter)],
  ["simli", () => import("../adapters/simli/index").then((module) => module.createSimliAdapter)],
  ["tavus", () => import("../adapters/tavus/index").then((module) => module.createTavusAdapter)],
]);

export function registerAdapter(provider: string, loader: () => Promise<AdapterFactory>): void {
  loaders.set(provider, loader);
}

/** Loads the provider's adapter code on first use (a separate chunk in the bundles). */
export async function loadAdapter(provider: string): Promise<AdapterFactory> {
  const loader = loaders.get(provider);
  if (!loader) throw new Error(`No avatar adapter for provider "${provider}" in this client yet.`);
  return loader();
}
