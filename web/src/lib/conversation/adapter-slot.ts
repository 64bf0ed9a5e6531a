/**
 * The adapter speaking for the conversation, and the one place that replaces it: a cloud provider's dropped
 * stream falls back to the built-in avatar at once, and the provider is reconnected in the background.
 */

import { ApiError } from "../api";
import { loadAdapter, type AdapterContext, type AvatarAdapter, type Transcript } from "../adapter";
import { Emitter } from "../events";

export const DROP_NOTICE =
  "The avatar's video connection dropped. The conversation goes on with the built-in avatar while we reconnect.";
export const GAVE_UP_NOTICE =
  "The avatar's video could not be restored, so the built-in avatar stays for the rest of this conversation.";

export interface SlotEvents {
  speaking: undefined;
  idle: undefined;
  error: Error;
  transcript: Transcript;
  /** The provider's stream dropped; the built-in avatar is taking over. */
  dropped: undefined;
  /** The built-in avatar has taken over (or failed to, with an `error` before). */
  fellBack: undefined;
  /** The built-in avatar's own stream ended: nothing is left to fall back on. */
  lost: undefined;
  /** A standing message about the avatar itself; null clears it. */
  notice: string | null;
}

export interface SlotOptions {
  /** What every adapter is made with (the session id is known once the session started). */
  context: () => AdapterContext;
  /** Fresh credentials for the provider (POST …/reconnect). */
  reconnect: () => Promise<Record<string, unknown>>;
  /** Waits before each attempt to bring a dropped provider stream back; empty: no attempts. */
  reconnectDelaysMs: readonly number[];
  /** The clock reconnection waits on. */
  sleep: (ms: number) => Promise<void>;
  /** The conversation is over: nothing more is installed. */
  ended: () => boolean;
  /** Resolves when no turn is in flight, so a swap never cuts an answer in two. */
  betweenTurns: () => Promise<void>;
}

export class AdapterSlot extends Emitter<SlotEvents> {
  private current: AvatarAdapter | null = null;
  private detach: (() => void)[] = [];
  private provider = "local";

  constructor(private readonly options: SlotOptions) {
    super();
  }

  get adapter(): AvatarAdapter | null {
    return this.current;
  }

  /** Loads, installs and starts the session's provider adapter. */
  async start(provider: string, credentials: Record<string, unknown>): Promise<void> {
    this.provider = provider;
    const adapter = await this.create(provider);
    this.install(adapter);
    await adapter.start(credentials);
  }

  /** Empties the slot and stops its adapter; its events are no longer heard. */
  async stop(): Promise<void> {
    const adapter = this.current;
    this.current = null;
    this.unsubscribe();
    await adapter?.stop().catch(() => undefined);
  }

  private async create(provider: string): Promise<AvatarAdapter> {
    return (await loadAdapter(provider))(this.options.context());
  }

  private unsubscribe(): void {
    for (const off of this.detach) off();
    this.detach = [];
  }

  /** Makes `adapter` the one speaking; events of the one it replaces are no longer heard. */
  private install(adapter: AvatarAdapter): void {
    this.unsubscribe();
    this.current = adapter;
    this.detach = [
      adapter.on("speaking", () => this.emit("speaking", undefined)),
      adapter.on("idle", () => this.emit("idle", undefined)),
      adapter.on("error", (error) => this.emit("error", error)),
      adapter.on("transcript", (line) => this.emit("transcript", line)),
      adapter.on("disconnected", ({ expected }) => {
        if (expected || this.options.ended()) return;
        if (this.provider === "local") this.emit("lost", undefined);
        else void this.fallBack(adapter);
      }),
    ];
  }

  private async fallBack(dropped: AvatarAdapter): Promise<void> {
    if (dropped !== this.current) return;
    this.emit("dropped", undefined);
    void dropped.stop().catch(() => undefined);
    this.emit("notice", DROP_NOTICE);
    try {
      const local = await this.create("local");
      this.install(local);
      await local.start({});
    } catch (error) {
      this.emit("error", error as Error);
    }
    this.emit("fellBack", undefined);
    await this.reconnect();
  }

  private async reconnect(): Promise<void> {
    for (const delay of this.options.reconnectDelaysMs) {
      await this.options.sleep(delay);
      if (this.options.ended()) return;
      let adapter: AvatarAdapter | null = null;
      try {
        const credentials = await this.options.reconnect();
        adapter = await this.create(this.provider);
        await adapter.start(credentials);
      } catch (error) {
        void adapter?.stop().catch(() => undefined);
        if (error instanceof ApiError && error.status === 409) return;
        continue;
      }
      await this.options.betweenTurns();
      if (this.options.ended()) {
        await adapter.stop().catch(() => undefined);
        return;
      }
      const local = this.current;
      this.install(adapter);
      void local?.stop().catch(() => undefined);
      this.emit("notice", null);
      return;
    }
    if (!this.options.ended()) this.emit("notice", GAVE_UP_NOTICE);
  }
}
