/** What the browser records with the session on the server: events a provider's own logs can be matched with. */

import type { ApiClient } from "../api";
import type { ConversationStatus } from "./status";

export interface SessionEventData {
  /** The provider's stream dropped and the built-in avatar took over. */
  disconnected: { provider: string; fallback: "local" };
  /** A cloud avatar started talking. */
  speaking: { provider: string };
  /** A cloud avatar stopped talking. */
  listening: { provider: string };
}

export class SessionRecorder {
  sessionId: string | null = null;
  provider = "local";

  constructor(private readonly api: ApiClient) {}

  record<K extends keyof SessionEventData>(type: K, data: SessionEventData[K]): void {
    if (!this.sessionId) return;
    this.api
      .json("POST", `/v1/sessions/${this.sessionId}/events`, { type, data })
      .catch((error: unknown) => console.warn(`the ${type} event was not recorded`, error));
  }

  /** A cloud avatar's talking is recorded with the session, where its provider's own logs can be matched. */
  statusChanged(status: ConversationStatus, previous: ConversationStatus): void {
    if (this.provider === "local") return;
    if (status === "speaking") this.record("speaking", { provider: this.provider });
    else if (status === "listening" && previous === "speaking") this.record("listening", { provider: this.provider });
  }
}
