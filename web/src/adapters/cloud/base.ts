/** What every cloud avatar adapter shares: its events, the video element in the stage, and telling a drop from a stop. */

import type { AdapterContext, AdapterEvent, AdapterEvents } from "../../lib/adapter";
import { Emitter } from "../../lib/events";

export abstract class CloudAdapter {
  protected readonly events = new Emitter<AdapterEvents>();
  protected stopping = false;
  private ended = false;

  constructor(protected readonly context: AdapterContext) {}

  on<K extends AdapterEvent>(event: K, callback: (detail: AdapterEvents[K]) => void): () => void {
    return this.events.on(event, callback);
  }

  /** A video element filling the stage, for the provider's stream. */
  protected video(label: string): HTMLVideoElement {
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.className = "avs-video";
    video.setAttribute("aria-label", label);
    this.context.stage.replaceChildren(video);
    return video;
  }

  /** The provider's stream ended: a drop unless we were stopping it. Reported once. */
  protected streamEnded(): void {
    if (this.ended) return;
    this.ended = true;
    this.events.emit("disconnected", { expected: this.stopping });
  }

  protected asError(reason: unknown, fallback: string): Error {
    if (reason instanceof Error) return reason;
    return new Error(typeof reason === "string" && reason ? reason : fallback);
  }
}

export function text(credentials: Record<string, unknown>, key: string): string {
  const value = credentials[key];
  if (typeof value !== "string" || !value) throw new Error(`The session's credentials have no ${key}.`);
  return value;
}
